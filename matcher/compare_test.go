package matcher

import (
	"slices"
	"testing"
)

// levelOf compares two contacts with the default settings and returns the
// level name of one field.
func levelOf(t *testing.T, m *Matcher, field string, a, b Record) string {
	t.Helper()
	pa, pb := m.Prepare(a), m.Prepare(b)
	c := m.compare(pa, pb)
	i := m.fieldIndex(field)
	g := c[i]
	switch {
	case g == gammaMissing:
		return "missing"
	case int(g) == len(m.fields[i].levels)+1:
		return "else"
	}
	return m.fields[i].levels[g-1].Label()
}

func TestCompareLevels(t *testing.T) {
	t.Parallel()
	m, err := New(DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		field string
		a, b  Record
		want  string
	}{
		{"nickname", "firstName", Record{"firstName": "Bob"}, Record{"firstName": "Robert"}, "nickname"},
		{"initial", "firstName", Record{"firstName": "J."}, Record{"firstName": "John"}, "initial"},
		{"accents", "firstName", Record{"firstName": "Zoë"}, Record{"firstName": "ZOE"}, "exact"},
		{"apostrophe", "lastName", Record{"lastName": "O'Brien"}, Record{"lastName": "OBrien"}, "exact"},
		{"umlaut", "lastName", Record{"lastName": "Müller"}, Record{"lastName": "Mueller"}, "key"},
		{"typo", "lastName", Record{"lastName": "Johnson"}, Record{"lastName": "Jonhson"}, "jaroWinkler>=0.92"},
		{"different", "lastName", Record{"lastName": "Smith"}, Record{"lastName": "Nguyen"}, "else"},
		{"missing", "lastName", Record{"lastName": ""}, Record{"lastName": "Nguyen"}, "missing"},
		{"swapped first", "firstName", Record{"firstName": "Smith", "lastName": "John"}, Record{"firstName": "John", "lastName": "Smith"}, "exact"},
		{"swapped last", "lastName", Record{"firstName": "Smith", "lastName": "John"}, Record{"firstName": "John", "lastName": "Smith"}, "exact"},
		{"gmail alias", "email", Record{"email": "John.Smith+crm@gmail.com"}, Record{"email": "johnsmith@googlemail.com"}, "key"},
		{"personal vs work", "email", Record{"email": "john.smith@gmail.com"}, Record{"email": "john.smith@acme.com"}, "emailLocal"},
		{"generic local", "email", Record{"email": "karen@acme.com"}, Record{"email": "karen@gmail.com"}, "emailChannel"},
		{"generic local at two employers", "email", Record{"email": "karen@acme.com"}, Record{"email": "karen@initech.com"}, "otherWorkDomain"},
		{"two private addresses", "email", Record{"email": "karen.x@gmail.com"}, Record{"email": "kx@web.de"}, "else"},
		{"private and work channels", "email", Record{"email": "renee.sanchez88@icloud.com"}, Record{"email": "renee.sanchez@weylandyutani.com"}, "emailChannel"},
		{"two work addresses", "email", Record{"email": "rs@acme.com"}, Record{"email": "renee@initech.com"}, "otherWorkDomain"},
		{"namesakes' name-shaped addresses", "email",
			Record{"firstName": "Brenda", "lastName": "Rodriguez", "email": "brenda.rodriguez@bellowscollege.net"},
			Record{"firstName": "Brenda", "lastName": "Rodriguez", "email": "brenda.rodriguez@virtucon.com"}, "emailNameLocal"},
		{"name-shaped on one side only", "email",
			Record{"firstName": "Thomas", "lastName": "Petrov", "email": "thomas.petrov@litware.com"},
			Record{"firstName": "T", "lastName": "Petrov", "email": "thomas.petrov@hotmail.com"}, "emailNameLocal"},
		{"local part not from the name", "email",
			Record{"firstName": "Brenda", "lastName": "Rodriguez", "email": "bren.rod77@bellowscollege.net"},
			Record{"firstName": "Brenda", "lastName": "Rodriguez", "email": "bren.rod77@virtucon.com"}, "emailLocal"},
		{"colleagues' name-shaped addresses", "email",
			Record{"firstName": "Jerry", "lastName": "Li", "email": "jerry.li@bestforyou.net"},
			Record{"firstName": "Larry", "lastName": "Li", "email": "larry.li@bestforyou.net"}, "emailNameVariant"},
		{"colleagues with other names at one domain", "email",
			Record{"firstName": "Jessica", "lastName": "Cole", "email": "jessica.cole@stellarvertex5910.com"},
			Record{"firstName": "John", "lastName": "Hunter", "email": "john.hunter@stellarvertex5910.com"}, "else"},
		{"colleagues sharing a first name at one domain", "email",
			Record{"firstName": "Robert", "lastName": "Lewis", "email": "robert.lewis@yonderadventure2688.com"},
			Record{"firstName": "Robert", "lastName": "Vargas", "email": "robert.vargas@yonderadventure2688.com"}, "else"},
		{"typo in a free-form address", "email",
			Record{"firstName": "Jerry", "lastName": "Li", "email": "jl2000@bestforyou.net"},
			Record{"firstName": "Jerry", "lastName": "Li", "email": "jl2001@bestforyou.net"}, "levenshtein<=2"},
		{"phone formats", "phone", Record{"phone": "+44 20 7946 0958"}, Record{"phone": "020 7946 0958 ext 4"}, "exact"},
		{"company suffix", "company", Record{"company": "Acme, Inc."}, Record{"company": "ACME"}, "exact"},
		{"title acronym", "title", Record{"title": "Chief Financial Officer"}, Record{"title": "CFO"}, "key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := levelOf(t, m, tt.field, tt.a, tt.b); got != tt.want {
				t.Errorf("%s level = %q; want %q", tt.field, got, tt.want)
			}
		})
	}
}

func TestDateLevels(t *testing.T) {
	t.Parallel()
	s, err := BuiltinSettings("febrl")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ a, b, want string }{
		{"19710624", "19710624", "exact"},
		{"19710612", "19711206", "dateSwap"},
		{"19710624", "19710625", "levenshtein<=1"},
		{"19710624", "19700901", "dateDays<=365"},
		{"19710624", "19500101", "else"},
	}
	for _, tt := range tests {
		got := levelOf(t, m, "date_of_birth", Record{"date_of_birth": tt.a}, Record{"date_of_birth": tt.b})
		if got != tt.want {
			t.Errorf("date %s vs %s: level %q; want %q", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	m, err := New(DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	a := m.KeysOf(Record{"firstName": "Bob", "lastName": "Smith", "email": "Bob.Smith+x@gmail.com", "phone": "+1 415 555 2671", "company": "Acme Inc"})
	b := m.KeysOf(Record{"firstName": "Smith", "lastName": "Bob", "email": "bobsmith@googlemail.com", "phone": "(415) 555-2671 x12", "company": "ACME"})
	shared := 0
	for _, k := range a {
		if slices.Contains(b, k) {
			shared++
		}
	}
	if shared < 3 {
		t.Fatalf("keys %v and %v share %d keys; want e-mail, phone and swapped names", a, b, shared)
	}
	if got := m.KeysOf(Record{}); len(got) != 0 {
		t.Fatalf("empty record has keys %v", got)
	}
}
