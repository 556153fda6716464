package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestContactAddress: a contact's postal address is created, read, changed part by part (each
// change audited under its field's name) and validated with the wrong part named.
func TestContactAddress(t *testing.T) {
	t.Parallel()
	b := setup(t)
	type address struct {
		Street, City, Region, PostalCode, Country *string
	}
	c := b.createContact(t, body{"firstName": "Ada", "street": " 2101 NASA Pkwy ", "city": "Houston", "region": "TX",
		"postalCode": "77058", "country": "USA"})
	read := func() address {
		rec := b.do(t, http.MethodGet, "/api/contacts/"+c.ID.String(), nil, as(b.reader))
		wantStatus(t, rec, http.StatusOK)
		return decode[address](t, rec)
	}
	if a := read(); deref(a.Street) != "2101 NASA Pkwy" || deref(a.City) != "Houston" || deref(a.Region) != "TX" ||
		deref(a.PostalCode) != "77058" || deref(a.Country) != "USA" {
		t.Fatalf("read back %+v", a)
	}
	wantStatus(t, b.do(t, http.MethodPatch, "/api/contacts/"+c.ID.String(), body{"city": "Clear Lake", "country": nil}), http.StatusOK)
	if a := read(); deref(a.City) != "Clear Lake" || a.Country != nil || deref(a.Street) != "2101 NASA Pkwy" {
		t.Errorf("after a patch %+v", a)
	}
	if n := b.count(t, "audit_log", "action = 'update' AND changes ? 'city' AND changes ? 'country' AND NOT changes ? 'street'"); n != 1 {
		t.Errorf("%d update audit entries with city and country, want 1", n)
	}
	for _, tc := range []struct {
		in    body
		field string
	}{
		{body{"firstName": "A", "street": strings.Repeat("x", 301)}, "street"},
		{body{"firstName": "A", "city": "Hou\x00ston"}, "city"},
		{body{"firstName": "A", "postalCode": strings.Repeat("9", 21)}, "postalCode"},
		{body{"firstName": "A", "region": 7}, "region"},
	} {
		p := wantProblem(t, b.do(t, http.MethodPost, "/api/contacts", tc.in), http.StatusUnprocessableEntity)
		wantFields(t, p, tc.field)
	}
}
