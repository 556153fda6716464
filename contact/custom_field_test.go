package contact_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/contactfile"
	"github.com/contactd/contactd/internal/db"
)

func TestCustomFieldCanonical(t *testing.T) {
	t.Parallel()
	enum := []string{"Retail", "Software"}
	for _, tc := range []struct {
		typ     contact.CustomType
		in      any
		want    any // nil with ok: no value
		invalid bool
	}{
		{contact.CustomText, "  hi ", "hi", false},
		{contact.CustomText, 3.0, nil, true},
		{contact.CustomText, "a\x01b", nil, true},
		{contact.CustomText, "   ", nil, false},
		{contact.CustomNumber, json.Number("42"), 42.0, false},
		{contact.CustomNumber, "-1.5e3", -1500.0, false},
		{contact.CustomNumber, "NaN", nil, true},
		{contact.CustomNumber, "12 apples", nil, true},
		{contact.CustomNumber, true, nil, true},
		{contact.CustomDate, "2027-02-28", "2027-02-28", false},
		{contact.CustomDate, "2027-02-30", nil, true},
		{contact.CustomDate, "2027-02-28T10:00:00Z", "2027-02-28", false},
		{contact.CustomBoolean, true, true, false},
		{contact.CustomBoolean, "no", false, false},
		{contact.CustomBoolean, "maybe", nil, true},
		{contact.CustomEnum, "software", "Software", false},
		{contact.CustomEnum, "Mining", nil, true},
		{contact.CustomMultiEnum, []any{"software", "Retail", "SOFTWARE"}, []string{"Retail", "Software"}, false},
		{contact.CustomMultiEnum, "Retail;software", []string{"Retail", "Software"}, false},
		{contact.CustomMultiEnum, []any{"Mars"}, nil, true},
		{contact.CustomMultiEnum, []any{1.0}, nil, true},
		{contact.CustomEmail, "A@Example.COM", "a@example.com", false},
		{contact.CustomEmail, "nobody", nil, true},
		{contact.CustomPhone, "(415) 555-2671", "(415) 555-2671", false},
		{contact.CustomPhone, "12", nil, true},
		{contact.CustomURL, "https://example.com/a", "https://example.com/a", false},
		{contact.CustomURL, "javascript:alert(1)", nil, true},
		{contact.CustomURL, "example.com", nil, true},
	} {
		t.Run(fmt.Sprintf("%s/%v", tc.typ, tc.in), func(t *testing.T) {
			t.Parallel()
			d := contact.CustomField{Key: "f", Type: tc.typ}
			if tc.typ == contact.CustomEnum || tc.typ == contact.CustomMultiEnum {
				d.Options = enum
			}
			got, msg := d.Canonical(tc.in)
			if (msg != "") != tc.invalid {
				t.Fatalf("Canonical(%#v) = %#v, %q; want invalid %v", tc.in, got, msg, tc.invalid)
			}
			if a, b := fmt.Sprintf("%#v", got), fmt.Sprintf("%#v", tc.want); !tc.invalid && a != b {
				t.Errorf("Canonical(%#v) = %s, want %s", tc.in, a, b)
			}
		})
	}
}

func TestCustomFieldDefinitionValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    contact.CustomField
		want string // the first field named, "" for valid
	}{
		{contact.CustomField{Key: "industry", Type: contact.CustomEnum, Options: []string{"A", "B"}}, ""},
		{contact.CustomField{Key: "Industry", Type: contact.CustomText}, "key"},
		{contact.CustomField{Key: "email", Type: contact.CustomText}, "key"},
		{contact.CustomField{Key: "tags", Type: contact.CustomText}, "key"},
		{contact.CustomField{Key: "x", Type: "colour"}, "type"},
		{contact.CustomField{Key: "x", Type: contact.CustomEnum}, "options"},
		{contact.CustomField{Key: "x", Type: contact.CustomText, Options: []string{"a"}}, "options"},
		{contact.CustomField{Key: "x", Type: contact.CustomEnum, Options: []string{"a", "A"}}, "options[1]"},
		{contact.CustomField{Key: "x", Type: contact.CustomMultiEnum, Options: []string{"a;b"}}, "options[0]"},
		{contact.CustomField{Key: "x", Type: contact.CustomBoolean, Unique: true}, "unique"},
	} {
		err := tc.d.Validate()
		got := ""
		if err != nil {
			got = contactErrField(err)
		}
		if got != tc.want {
			t.Errorf("%+v: first invalid field %q, want %q (%v)", tc.d, got, tc.want, err)
		}
	}
}

func contactErrField(err error) string {
	var de *db.Error
	if errors.As(err, &de) && len(de.Fields) > 0 {
		return de.Fields[0].Field
	}
	return err.Error()
}

func FuzzCustomFieldCanonical(f *testing.F) {
	for _, s := range []string{"42", "2027-01-01", "true", "a;b", "x@y.z", "+1 (415) 555", "https://a.b", ""} {
		f.Add(s)
	}
	defs := []contact.CustomField{}
	for _, typ := range contact.CustomTypes {
		d := contact.CustomField{Key: "f", Type: typ}
		if typ == contact.CustomEnum || typ == contact.CustomMultiEnum {
			d.Options = []string{"a", "b"}
		}
		defs = append(defs, d)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, d := range defs {
			v, msg := d.Canonical(s)
			if msg != "" {
				continue
			}
			// A stored value reads back as itself.
			again, msg := d.Canonical(contactfile.CustomText(v))
			if msg != "" || fmt.Sprint(again) != fmt.Sprint(v) {
				t.Fatalf("%s: %q → %#v → %q → %#v (%s)", d.Type, s, v, contactfile.CustomText(v), again, msg)
			}
		}
	})
}
