package contactfile

import (
	"maps"
	"testing"
)

func TestParseMapping(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"", map[string]string{}, false},
		{"Given=firstName, Surname = lastName", map[string]string{"Given": "firstName", "Surname": "lastName"}, false},
		{`{"Mail": "email", "Junk": "-"}`, map[string]string{"Mail": "email", "Junk": "-"}, false},
		{"Given", nil, true},
		{"=firstName", nil, true},
		{"Given=shoeSize", nil, true},
		{`{"Mail": 3}`, nil, true},
		{`{"Mail": "email"} {}`, nil, true},
	} {
		got, err := ParseMapping(tc.in)
		if (err != nil) != tc.wantErr || (!tc.wantErr && !maps.Equal(got, tc.want)) {
			t.Errorf("ParseMapping(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
