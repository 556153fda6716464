package contactfile

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestNDJSONReader(t *testing.T) {
	t.Parallel()
	_, res := readFixture(t, "contacts.ndjson", Options{})
	if res.err != nil {
		t.Fatal(res.err)
	}
	want := []contact{
		{line: 1, id: "n-1", first: "Frances", last: "Allen", email: "fran@example.com", phone: "+1 914 555 0100", title: "Fellow", company: "IBM"},
		{line: 2, id: "42", first: "John", last: "Backus", email: "backus@example.com", emails: "jb@example.org", phone: "+1 212 555 0100"},
		{line: 7, first: "Niklaus", last: "Wirth", email: "wirth@example.ch"},
	}
	if len(res.rows) != len(want) {
		t.Fatalf("got %d rows, want %d", len(res.rows), len(want))
	}
	for i, row := range res.rows {
		got := contactOf(row)
		if want[i].id == "" {
			want[i].id = got.id
		}
		if got != want[i] {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}
	if got := res.rows[0].Extra["team"]; got != "compilers" {
		t.Errorf("Extra[team] = %q", got)
	}
	if got := res.rows[2].Tags; strings.Join(got, "|") != "pascal|oberon" {
		t.Errorf("Tags = %q", got)
	}
	var errs []string
	for _, e := range res.rowErrs {
		errs = append(errs, e.Error())
	}
	wantErrs := []string{
		"line 4: malformed JSON: unexpected end of JSON input",
		"line 5: not a JSON object",
		"line 6: firstName: must be a string",
	}
	if !slices.Equal(errs, wantErrs) {
		t.Errorf("row errors:\n%q\nwant\n%q", errs, wantErrs)
	}
}

func TestNDJSONReaderBounds(t *testing.T) {
	t.Parallel()
	long := `{"firstName":"` + strings.Repeat("x", 5000) + `"}`
	in := `{"firstName":"Ada"}` + "\n" + long + "\r\n" + `{"firstName":"Grace"}`
	_, res := readString(t, in, Options{Format: NDJSON, MaxLineBytes: 1000})
	if res.err != nil || len(res.rows) != 2 || res.rows[1].FirstName != "Grace" || res.rows[1].Line != 3 {
		t.Fatalf("rows %+v err %v", res.rows, res.err)
	}
	if len(res.rowErrs) != 1 || res.rowErrs[0].Line != 2 || !strings.Contains(res.rowErrs[0].Message, "longer than 1000") {
		t.Errorf("row errors %v", res.rowErrs)
	}
}

func TestNDJSONReaderInvalidUTF8(t *testing.T) {
	t.Parallel()
	_, res := readString(t, "{\"firstName\":\"Ada\"}\n{\"firstName\":\"J\xFCrgen\"}\n", Options{Format: NDJSON})
	if len(res.rows) != 1 || !errors.Is(res.err, ErrInvalidUTF8) || fileErrorLine(t, res.err) != 2 {
		t.Errorf("rows %v err %v", res.rows, res.err)
	}
}

func TestNDJSONReaderKeyOrderIsDeterministic(t *testing.T) {
	t.Parallel()
	in := `{"emails":["b@x","c@x"],"id":"by-id","email":"a@x","externalId":"by-external-id"}` + "\n"
	for range 20 {
		_, res := readString(t, in, Options{})
		r := res.rows[0]
		if r.Email != "a@x" || strings.Join(r.Emails, ",") != "b@x,c@x" || r.ExternalID != "by-external-id" {
			t.Fatalf("row %+v", r)
		}
	}
}
