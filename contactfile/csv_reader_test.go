package contactfile

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestCSVReaderMappingFamilies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file         string
		want         []contact
		wantUnmapped []string
		wantExtra    map[string]string // of the first row
	}{
		{
			file: "google_old.csv",
			want: []contact{
				{line: 2, first: "Ada", last: "Lovelace", email: "ada@example.com", emails: "ada.home@example.org",
					phone: "+44 20 7946 0018", phones: "+44 20 7946 0999", title: "Analyst", company: "Analytical Engines Ltd"},
				{line: 3, first: "Grace", last: "Hopper", email: "grace@example.com", emails: "grace@navy.example.mil",
					phone: "+1 202-555-0143", title: "Rear Admiral", company: "US Navy"},
			},
			wantExtra: map[string]string{"Notes": "Analyst, first programmer", "Birthday": "1815-12-10"},
		},
		{
			file: "google_new.csv",
			want: []contact{
				{line: 2, first: "Alan", last: "Turing", email: "alan@example.co.uk", phone: "+44 7700 900123",
					title: "Cryptanalyst", company: "Bletchley Park"},
				{line: 3, first: "Katherine", last: "Johnson", email: "kjohnson@example.gov", emails: "katherine@example.com",
					title: "Mathematician", company: "NASA"},
			},
			wantExtra: map[string]string{"Middle Name": "Mathison", "Address 1 - Formatted": "Wilmslow, Cheshire"},
		},
		{
			file: "outlook.csv",
			want: []contact{
				{line: 2, first: "Linus", last: "Pauling", email: "linus@example.edu", emails: "lp@example.org",
					phone: "(626) 555-0100", phones: "(626) 555-0199", title: "Professor", company: "Caltech"},
				{line: 3, first: "Marie", last: "Curie", email: "marie@example.fr", phone: "+33 1 55 55 01 00",
					title: "Director", company: "Institut du Radium"},
			},
			wantExtra: map[string]string{"Title": "Dr.", "Business Fax": "(626) 555-0111"},
		},
		{
			file: "hubspot.csv",
			want: []contact{
				{line: 2, id: "51", first: "Brian", last: "Halligan", email: "bh@example.com", phone: "+1 617-555-0100",
					title: "CEO", company: "HubSpot"},
				{line: 3, id: "52", first: "Dharmesh", last: "Shah", email: "dharmesh@example.com", title: "CTO", company: "HubSpot"},
			},
			wantUnmapped: []string{"Lifecycle Stage", "Contact owner", "Create Date"},
			wantExtra:    map[string]string{"Lifecycle Stage": "customer", "Contact owner": "Jane Doe", "Create Date": "2024-01-15 10:01"},
		},
		{
			file: "linkedin.csv",
			want: []contact{
				{line: 5, first: "Reid", last: "Hoffman", title: "Partner", company: "Greylock"},
				{line: 6, first: "Satya", last: "Nadella", email: "satya@example.com", title: "Chairman, CEO", company: "Microsoft"},
			},
			wantUnmapped: []string{"URL", "Connected On"},
			wantExtra:    map[string]string{"URL": "https://www.linkedin.com/in/reidhoffman", "Connected On": "03 Jan 2019"},
		},
		{
			file: "spec.csv",
			want: []contact{
				{line: 2, id: "crm-1", first: "Edsger", last: "Dijkstra", email: "ewd@example.nl", phone: "+31 20 555 0100",
					title: "Professor", company: "UT Austin"},
				{line: 3, first: "Barbara", last: "Liskov", email: "liskov@example.edu", title: "Institute Professor", company: "MIT"},
			},
			wantUnmapped: []string{"favouriteColour"},
			wantExtra:    map[string]string{"favouriteColour": "blue"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			r, res := readFixture(t, tt.file, Options{})
			if res.err != nil || len(res.rowErrs) > 0 {
				t.Fatalf("err %v, row errors %v", res.err, res.rowErrs)
			}
			if len(res.rows) != len(tt.want) {
				t.Fatalf("got %d rows, want %d", len(res.rows), len(tt.want))
			}
			for i, row := range res.rows {
				got := contactOf(row)
				want := tt.want[i]
				if want.id == "" {
					want.id = got.id // hashed
					if len(got.id) != hashedIDLen {
						t.Errorf("row %d: hashed id %q", i, got.id)
					}
				}
				if got != want {
					t.Errorf("row %d:\n got %+v\nwant %+v", i, got, want)
				}
				if row.Index != i {
					t.Errorf("row %d: Index %d", i, row.Index)
				}
			}
			if tt.wantUnmapped != nil && !slices.Equal(r.Mapping().Unmapped(), tt.wantUnmapped) {
				t.Errorf("Unmapped() = %q, want %q", r.Mapping().Unmapped(), tt.wantUnmapped)
			}
			for k, v := range tt.wantExtra {
				if got := res.rows[0].Extra[k]; got != v {
					t.Errorf("Extra[%q] = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestCSVReaderHeaderVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, header string
		want         []Field
	}{
		{"camel", "firstName,lastName,email,phone,title,company,externalId", []Field{FieldFirstName, FieldLastName, FieldEmail, FieldPhone, FieldTitle, FieldCompany, FieldExternalID}},
		{"snake", "first_name,last_name,email_address,phone_number,job_title,company_name,id", []Field{FieldFirstName, FieldLastName, FieldEmail, FieldPhone, FieldTitle, FieldCompany, FieldExternalID}},
		{"spaced", "First Name,LAST NAME,E-Mail,Mobile Phone,Position,Organization,Record ID", []Field{FieldFirstName, FieldLastName, FieldEmail, FieldPhone, FieldTitle, FieldCompany, FieldExternalID}},
		{"google numbered", "E-mail 3 - Value,Phone 12 - Value,Organization 2 - Name,Organization 2 - Title,E-mail 1 - Type", []Field{FieldEmail, FieldPhone, FieldCompany, FieldTitle, FieldExtra}},
		{"contactd export", strings.Join(exportHeader[:], ","), []Field{FieldExternalID, FieldFirstName, FieldLastName, FieldEmail, FieldPhone, FieldTitle, FieldCompany, FieldIgnore, FieldIgnore, FieldIgnore, FieldIgnore, FieldExtra, FieldExtra, FieldExtra, FieldExternalIDs}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := NewReader(strings.NewReader(tt.header+"\n"), Options{Format: CSV})
			if err != nil {
				t.Fatal(err)
			}
			var got []Field
			for _, c := range r.Mapping().Columns {
				got = append(got, c.Field)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("fields = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCSVReaderExplicitMapping(t *testing.T) {
	t.Parallel()
	in := "Vorname,Nachname,Mail,Firma,Title\nKonrad,Zuse,kz@example.de,Zuse KG,Dr.\n"
	r, res := readString(t, in, Options{Mapping: map[string]string{
		"Vorname": "firstName", "nachname": "last_name", "Mail": "email", "Firma": "company", "Title": "-",
	}})
	if res.err != nil || len(res.rows) != 1 {
		t.Fatalf("rows %v err %v", res.rows, res.err)
	}
	got := contactOf(res.rows[0])
	want := contact{line: 2, first: "Konrad", last: "Zuse", email: "kz@example.de", company: "Zuse KG", id: got.id}
	if got != want || res.rows[0].Extra != nil {
		t.Errorf("got %+v extra %v, want %+v", got, res.rows[0].Extra, want)
	}
	if len(r.Mapping().Unmapped()) != 0 {
		t.Errorf("Unmapped = %q", r.Mapping().Unmapped())
	}

	if _, err := NewReader(strings.NewReader(in), Options{Mapping: map[string]string{"Vorname": "shoeSize"}}); err == nil {
		t.Error("unknown field: no error")
	}
	if _, err := NewReader(strings.NewReader(in), Options{Mapping: map[string]string{"Telefon": "phone"}}); err == nil {
		t.Error("column not in header: no error")
	}
}

func TestCSVReaderLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        string
		wantLines []int
		wantFirst []string
		wantErrs  []int // lines of row errors
	}{
		{
			name:      "multi-line quoted fields",
			in:        "firstName,notes\r\nAda,\"one\r\ntwo\r\nthree\"\r\nGrace,plain\r\n\r\nAlan,\"x\ny\"\nEdsger,z\n",
			wantLines: []int{2, 5, 7, 9},
			wantFirst: []string{"Ada", "Grace", "Alan", "Edsger"},
		},
		{
			name:      "BOM and semicolons",
			in:        "\xEF\xBB\xBFFirst Name;Last Name;E-Mail\nJürgen;Müller;j@example.de\nAnna;\"Schmidt; geb. Meier\";a@example.de\n",
			wantLines: []int{2, 3},
			wantFirst: []string{"Jürgen", "Anna"},
		},
		{
			name:      "Excel sep= line",
			in:        "sep=;\r\nFirst Name;E-mail\r\nAda;ada@example.com\r\n",
			wantLines: []int{3},
			wantFirst: []string{"Ada"},
		},
		{
			name:      "tabs",
			in:        "first name\tlast name\temail\nAda\tLovelace\ta@example.com\n",
			wantLines: []int{2},
			wantFirst: []string{"Ada"},
		},
		{
			name:      "wrong field count is a row error",
			in:        "firstName,lastName\nAda,Lovelace\nGrace\nAlan,Turing,extra\nEdsger,Dijkstra\n",
			wantLines: []int{2, 5},
			wantFirst: []string{"Ada", "Edsger"},
			wantErrs:  []int{3, 4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, res := readString(t, tt.in, Options{})
			if res.err != nil {
				t.Fatal(res.err)
			}
			var lines []int
			var firsts []string
			for _, r := range res.rows {
				lines = append(lines, r.Line)
				firsts = append(firsts, r.FirstName)
			}
			var errLines []int
			for _, e := range res.rowErrs {
				errLines = append(errLines, e.Line)
			}
			if !slices.Equal(lines, tt.wantLines) || !slices.Equal(firsts, tt.wantFirst) || !slices.Equal(errLines, tt.wantErrs) {
				t.Errorf("lines %v firsts %q row errors %v; want %v %q %v", lines, firsts, errLines, tt.wantLines, tt.wantFirst, tt.wantErrs)
			}
		})
	}
}

func TestCSVReaderMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		opts     Options
		wantRows int
		wantLine int
		wantErr  error
	}{
		{name: "invalid UTF-8", in: "firstName,lastName\nAda,Lovelace\nJ\xFCrgen,M\xFCller\n", wantRows: 1, wantLine: 3, wantErr: ErrInvalidUTF8},
		{name: "invalid UTF-8 in multi-line field", in: "firstName,notes\nAda,\"a\nb\xFF\"\n", wantLine: 3, wantErr: ErrInvalidUTF8},
		{name: "invalid UTF-8 in header", in: "first\xFF,email\nAda,a@b\n", wantLine: 1, wantErr: ErrInvalidUTF8},
		{name: "bare quote", in: "firstName,lastName\nAda,Lovelace\nGr\"ace,Hopper\n", wantRows: 1, wantLine: 3},
		{name: "unclosed quote", in: "firstName,lastName\nAda,Lovelace\n\"Grace,Hopper\nAlan,Turing\n", wantRows: 1, wantLine: 4},
		{
			name:     "unclosed quote in a big file stops at the bound",
			in:       "firstName,lastName\nAda,\"Lovelace\n" + strings.Repeat("x,y\n", 100_000),
			opts:     Options{MaxLineBytes: 1024},
			wantLine: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := NewReader(strings.NewReader(tt.in), tt.opts)
			if err != nil {
				if tt.wantRows != 0 {
					t.Fatal(err)
				}
			} else {
				res := readAll(t, r)
				if len(res.rows) != tt.wantRows {
					t.Errorf("got %d rows before the error, want %d", len(res.rows), tt.wantRows)
				}
				err = res.err
				if _, again := r.Next(); again != err {
					t.Errorf("error not sticky: %v then %v", err, again)
				}
			}
			if got := fileErrorLine(t, err); got != tt.wantLine {
				t.Errorf("error %q at line %d, want %d", err, got, tt.wantLine)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "line") {
				t.Errorf("error %q does not name the line", err)
			}
		})
	}
}

func TestReaderRejectsUTF16(t *testing.T) {
	t.Parallel()
	_, err := NewReader(strings.NewReader("\xFF\xFEf\x00i\x00"), Options{})
	if !errors.Is(err, ErrInvalidUTF8) || fileErrorLine(t, err) != 1 || !strings.Contains(err.Error(), "UTF-16") {
		t.Errorf("err = %v", err)
	}
}

func TestReaderDetectsFromOptions(t *testing.T) {
	t.Parallel()
	// Without the name this would be taken as CSV.
	r, err := NewReader(strings.NewReader(""), Options{FileName: "empty.ndjson"})
	if err != nil || r.Format() != NDJSON {
		t.Fatalf("format %v, err %v", r, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next = %v, want io.EOF", err)
	}
}

func TestCSVReaderEmpty(t *testing.T) {
	t.Parallel()
	_, err := NewReader(strings.NewReader(""), Options{Format: CSV})
	if !errors.Is(err, ErrNoHeader) {
		t.Errorf("empty file: %v, want ErrNoHeader", err)
	}
	_, res := readString(t, "email\n", Options{})
	if res.err != nil || len(res.rows) != 0 {
		t.Errorf("header only: %v %v", res.rows, res.err)
	}
}

func TestCSVReaderUnrecognisedSingleColumn(t *testing.T) {
	t.Parallel()
	r, res := readString(t, "shoe\n42\n43\n", Options{Format: CSV})
	if res.err != nil || len(res.rows) != 2 || res.rows[0].Extra["shoe"] != "42" || res.rows[1].Line != 3 {
		t.Fatalf("rows %+v err %v", res.rows, res.err)
	}
	if r.Mapping().HeaderLine != 1 {
		t.Errorf("HeaderLine = %d", r.Mapping().HeaderLine)
	}
}

func TestReaderSkip(t *testing.T) {
	t.Parallel()
	in := "firstName\nA\nB\n\"C\nC\"\nD,extra\nE\n"
	r, err := NewReader(strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Skip(4); err != nil {
		t.Fatal(err)
	}
	row, err := r.Next()
	if err != nil || row.FirstName != "E" || row.Index != 4 || row.Line != 7 || r.Offset() != 5 {
		t.Fatalf("after Skip(4): %+v %v offset %d", row, err, r.Offset())
	}
	if err := r.Skip(1); err != io.EOF {
		t.Errorf("Skip past the end = %v, want io.EOF", err)
	}
}

func TestReaderHashedIDsAreStable(t *testing.T) {
	t.Parallel()
	_, a := readString(t, "First Name,Last Name,Email\nAda,Lovelace,ADA@example.com\n", Options{})
	_, b := readString(t, "email;firstName;lastName\n ada@example.com ;ada;LOVELACE\n", Options{})
	_, c := readString(t, "firstName,lastName,email\nAda,Lovelace,ada@example.org\n", Options{})
	if a.rows[0].ExternalID != b.rows[0].ExternalID {
		t.Errorf("same content, different ids: %q %q", a.rows[0].ExternalID, b.rows[0].ExternalID)
	}
	if a.rows[0].ExternalID == c.rows[0].ExternalID {
		t.Error("different content, same id")
	}
}
