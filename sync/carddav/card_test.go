package carddav

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/contactd/contactd/sync/syncengine"
)

func crlf(s string) []byte {
	return []byte(strings.ReplaceAll(strings.TrimSpace(s), "\n", "\r\n") + "\r\n")
}

func TestMapCard(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, card           string
		values               map[string]string
		emails, phones, tags []string
		uid, updated         string
	}{
		{"3.0 with TYPE=pref", adaV3, map[string]string{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
			"phone": "+44 20 7946 0018", "company": "Analytical Engines", "title": "Analyst"},
			[]string{"ada@work.example"}, []string{}, []string{"math", "pioneer"}, "ada", "2026-01-01T12:00:00Z"},
		{"4.0 tel URIs and PREF", alanV4, map[string]string{"firstName": "Alan", "lastName": "Turing", "email": "alan@example.com",
			"phone": "+44-161-555-0100"}, []string{}, []string{"+44-161-555-0101"}, []string{}, "urn:uuid:alan", ""},
		{"FN only", "BEGIN:VCARD\nVERSION:4.0\nFN:Grace Brewster Hopper\nREV:2026-02-03T04:05:06Z\nEND:VCARD",
			map[string]string{"firstName": "Grace Brewster", "lastName": "Hopper"}, []string{}, []string{}, []string{}, "", "2026-02-03T04:05:06Z"},
		{"escapes and several CATEGORIES", "BEGIN:VCARD\nVERSION:3.0\nN:O\\;Neil;Shaq;;;\nORG:Acme\\, Inc.;Sales\nCATEGORIES:a,b\nCATEGORIES:b,c\nEND:VCARD",
			map[string]string{"firstName": "Shaq", "lastName": "O;Neil", "company": "Acme, Inc."}, []string{}, []string{}, []string{"a", "b", "c"}, "", ""},
		// The preferred ADR is the postal address: the extended address after the street, the
		// post office box when there is no street; the other ADR is not read.
		{"addresses", "BEGIN:VCARD\nVERSION:3.0\nN:Lovelace;Ada;;;\nADR;TYPE=work:;;1 Work Rd;Leeds;;LS1;UK\n" +
			"ADR;TYPE=home,pref:;Flat 2;12 St James\\, Sq;London;Greater London;SW1;United Kingdom\nEND:VCARD",
			map[string]string{"firstName": "Ada", "lastName": "Lovelace", "street": "12 St James, Sq, Flat 2", "city": "London",
				"region": "Greater London", "postalCode": "SW1", "country": "United Kingdom"}, []string{}, []string{}, []string{}, "", ""},
		{"post office box", "BEGIN:VCARD\nVERSION:4.0\nFN:Box Holder\nADR:PO Box 7;;;Springfield;;12345;\nEND:VCARD",
			map[string]string{"firstName": "Box", "lastName": "Holder", "street": "PO Box 7", "city": "Springfield", "postalCode": "12345"},
			[]string{}, []string{}, []string{}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			card, err := parseCard(crlf(tc.card))
			if err != nil {
				t.Fatal(err)
			}
			m := mapCard(card)
			if !mapsEqual(m.values, tc.values) || !slices.Equal(m.emails, tc.emails) || !slices.Equal(m.phones, tc.phones) ||
				!slices.Equal(m.tags, tc.tags) || m.uid != tc.uid || m.updated != tc.updated {
				t.Fatalf("got %+v", m)
			}
		})
	}
}

// apply replaces only the modelled properties, in both versions, and reads back as written.
func TestApply(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, tc := range []struct {
		name, raw string
		w         syncengine.Write
		keep      []string
	}{
		{"3.0 new primary email and phone", adaV3, syncengine.Write{Values: map[string]string{"firstName": "Ada", "lastName": "Lovelace",
			"email": "ada@work.example", "phone": "+44 20 7946 9999", "company": "Engines", "title": "Analyst"}, Emails: []string{"ada@example.com"}, Tags: []string{"pioneer"}},
			[]string{"NOTE:First programmer", "X-CUSTOM:kept", "ORG:Engines;Research", "N:Lovelace;Ada;;;", "TEL;TYPE=cell:+44 20 7946 9999"}},
		{"4.0 tel URI kept as URI", alanV4, syncengine.Write{Values: map[string]string{"firstName": "Alan", "lastName": "Turing",
			"email": "alan@example.com", "phone": "+44-161-555-0101"}},
			[]string{"VERSION:4.0", "UID:urn:uuid:alan", "tel:+44-161-555-0101"}},
		{"new card", "", syncengine.Write{Values: map[string]string{"email": "x@example.com", "company": "Solo"}},
			[]string{"VERSION:3.0", "FN:Solo", "EMAIL:x@example.com", "ORG:Solo"}},
		// Custom fields are X-CONTACTD-<KEY> (underscores as dashes): set, changed, and one the
		// write lacks removed (the read-back would show it otherwise).
		{"custom fields", strings.Replace(adaV3, "X-CUSTOM:kept", "X-CUSTOM:kept\nX-CONTACTD-TIER:Gold\nX-CONTACTD-OLD-KEY:gone", 1),
			syncengine.Write{Values: map[string]string{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
				"phone": "+44 20 7946 0018", "company": "Analytical Engines", "title": "Analyst",
				"customFields.tier": "Silver", "customFields.first_order": "2026-01-02"}},
			[]string{"X-CUSTOM:kept", "X-CONTACTD-TIER:Silver", "X-CONTACTD-FIRST-ORDER:2026-01-02"}},
		// The postal address goes to the preferred ADR, its parameters and the other ADR kept.
		{"address changed", strings.Replace(adaV3, "X-CUSTOM:kept", "X-CUSTOM:kept\nADR;TYPE=work:;;1 Work Rd;Leeds;;LS1;UK\nADR;TYPE=home,pref:;;1 Old Rd;Oldtown;;OT1;UK", 1),
			syncengine.Write{Values: map[string]string{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
				"phone": "+44 20 7946 0018", "company": "Analytical Engines", "title": "Analyst",
				"street": "2 New Rd, Flat 3", "city": "Newtown", "postalCode": "NT2", "country": "UK"}},
			[]string{"ADR;TYPE=work:;;1 Work Rd;Leeds;;LS1;UK", "ADR;TYPE=home;TYPE=pref:;;2 New Rd\\, Flat 3;Newtown;;NT2;UK"}},
		{"address added", alanV4, syncengine.Write{Values: map[string]string{"firstName": "Alan", "lastName": "Turing",
			"email": "alan@example.com", "phone": "+44-161-555-0100", "street": "Bletchley Park", "city": "Milton Keynes"}},
			[]string{"ADR:;;Bletchley Park;Milton Keynes;;;"}},
		{"address removed", strings.Replace(alanV4, "END:VCARD", "ADR;PREF=1:;;Bletchley Park;Milton Keynes;;;\nADR:;;Old;Town;;;\nEND:VCARD", 1),
			syncengine.Write{Values: map[string]string{"firstName": "Alan", "lastName": "Turing", "email": "alan@example.com", "phone": "+44-161-555-0100",
				"street": "Old", "city": "Town"}},
			[]string{"ADR:;;Old;Town;;;"}},
		{"address cleared", strings.Replace(alanV4, "END:VCARD", "ADR;PREF=1:;;Bletchley Park;Milton Keynes;;;\nADR;TYPE=work:;;Old;Town;;;\nEND:VCARD", 1),
			syncengine.Write{Values: map[string]string{"firstName": "Alan", "lastName": "Turing", "email": "alan@example.com", "phone": "+44-161-555-0100"}},
			[]string{"FN:Alan Turing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			card := newCard("new")
			if tc.raw != "" {
				var err error
				if card, err = parseCard(crlf(tc.raw)); err != nil {
					t.Fatal(err)
				}
			}
			apply(card, &tc.w, now)
			b, err := encodeCard(card)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range append(tc.keep, "REV:20260506T070809Z") {
				if !strings.Contains(string(b), k) {
					t.Errorf("%q missing from\n%s", k, b)
				}
			}
			back, err := parseCard(b)
			if err != nil {
				t.Fatal(err)
			}
			m := mapCard(back)
			want := map[string]string{}
			for k, v := range tc.w.Values {
				want[k] = v
			}
			if !mapsEqual(m.values, want) || (tc.w.Emails != nil && !slices.Equal(m.emails, tc.w.Emails)) ||
				(tc.w.Tags != nil && !slices.Equal(m.tags, tc.w.Tags)) {
				t.Fatalf("read back %+v from\n%s", m, b)
			}
		})
	}
}

// FuzzCard: any card that parses maps, takes a write and reads back what was written.
func FuzzCard(f *testing.F) {
	f.Add(string(crlf(adaV3)))
	f.Add(string(crlf(alanV4)))
	f.Add("BEGIN:VCARD\r\nVERSION:3.0\r\nN:;;;;\r\nEMAIL;TYPE=pref,work:a@b\r\nEND:VCARD\r\n")
	f.Add("BEGIN:VCARD\r\nVERSION:3.0\r\nN:;;;;\r\nADR;TYPE=home:Box 1;Flat 2;1 Rd\\, x;Town;;123;UK\r\nADR;PREF=1:;;;;;;\r\nEND:VCARD\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		card, err := parseCard([]byte(raw))
		if err != nil {
			return
		}
		m := mapCard(card)
		w := syncengine.Write{Values: m.values, Emails: m.emails, Phones: m.phones, Tags: m.tags}
		apply(card, &w, time.Unix(0, 0))
		b, err := encodeCard(card)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		back, err := parseCard(b)
		if err != nil {
			t.Fatalf("what apply wrote does not parse: %v\n%s", err, b)
		}
		if got := mapCard(back); got.values["email"] != m.values["email"] || got.values["phone"] != m.values["phone"] {
			t.Fatalf("email/phone %q %q read back as %q %q\n%s", m.values["email"], m.values["phone"], got.values["email"], got.values["phone"], b)
		}
	})
}
