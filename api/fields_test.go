package api_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"
)

type customOut struct {
	ID           uuid.UUID      `json:"id"`
	Type         string         `json:"type"`
	CustomFields map[string]any `json:"customFields"`
	Extra        map[string]any `json:"extra"`
}

func (b *testBundle) defineField(t testing.TB, in body) {
	t.Helper()
	wantStatus(t, b.do(t, http.MethodPost, "/api/fields", in), http.StatusCreated)
}

func (b *testBundle) idSet(t testing.TB, query string) map[uuid.UUID]bool {
	t.Helper()
	rec := b.do(t, http.MethodGet, "/api/contacts?"+query, nil)
	wantStatus(t, rec, http.StatusOK)
	out := map[uuid.UUID]bool{}
	for _, c := range decode[page[customOut]](t, rec).Data {
		out[c.ID] = true
	}
	return out
}

func TestCustomFieldValidationByType(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, f := range []body{
		{"key": "notes", "type": "text"},
		{"key": "employees", "type": "number"},
		{"key": "renewal", "type": "date"},
		{"key": "vip", "type": "boolean"},
		{"key": "industry", "label": "Industry", "type": "enum", "options": []string{"Retail", "Software"}},
		{"key": "regions", "type": "multi_enum", "options": []string{"EU", "US", "APAC"}},
		{"key": "billing_email", "type": "email"},
		{"key": "mobile", "type": "phone"},
		{"key": "site", "type": "url"},
	} {
		b.defineField(t, f)
	}
	good := body{"notes": "  likes tea ", "employees": 42.5, "renewal": "2027-03-01", "vip": true, "industry": "software",
		"regions": []string{"us", "EU", "US"}, "billing_email": "Billing@Example.COM", "mobile": "+1 415 555 2671", "site": "https://example.com/x"}
	rec := b.do(t, http.MethodPost, "/api/contacts", body{"firstName": "Ada", "customFields": good})
	wantStatus(t, rec, http.StatusCreated)
	got := decode[customOut](t, rec).CustomFields
	want := map[string]any{"notes": "likes tea", "employees": 42.5, "renewal": "2027-03-01", "vip": true, "industry": "Software",
		"regions": []any{"EU", "US"}, "billing_email": "billing@example.com", "mobile": "+1 415 555 2671", "site": "https://example.com/x"}
	if string(mustJSON(t, got)) != string(mustJSON(t, want)) {
		t.Errorf("stored %s, want %s", mustJSON(t, got), mustJSON(t, want))
	}

	bad := body{"employees": "many", "renewal": "2027-13-01", "vip": "perhaps", "industry": "Mining",
		"regions": []string{"Mars"}, "billing_email": "not-an-email", "mobile": "12", "site": "ftp://x", "nosuch": "x",
		"notes": 7}
	p := wantProblem(t, b.do(t, http.MethodPost, "/api/contacts", body{"firstName": "Bob", "customFields": bad}), http.StatusUnprocessableEntity)
	wantFields(t, p, "customFields.billing_email", "customFields.employees", "customFields.industry", "customFields.mobile",
		"customFields.nosuch", "customFields.notes", "customFields.regions", "customFields.renewal", "customFields.site", "customFields.vip")

	// PATCH changes only the keys given; null removes one. The batch names the item.
	id := decode[customOut](t, rec).ID
	rec = b.do(t, http.MethodPatch, "/api/contacts/"+id.String(), body{"customFields": body{"employees": "7", "notes": nil}})
	wantStatus(t, rec, http.StatusOK)
	got = decode[customOut](t, rec).CustomFields
	if got["employees"] != 7.0 || got["notes"] != nil || got["vip"] != true {
		t.Errorf("after PATCH: %v", got)
	}
	rec = b.do(t, http.MethodPost, "/api/contacts/batch", body{"mode": "create", "matchOn": "email", "contacts": []body{
		{"email": "x@example.com", "customFields": body{"employees": "x"}},
		{"email": "y@example.com", "customFields": body{"employees": 3}, "type": "user"},
	}})
	wantStatus(t, rec, http.StatusOK)
	res := decode[struct {
		Results []struct {
			Status string
			ID     *uuid.UUID
			Error  *problem
		}
	}](t, rec).Results
	if res[0].Status != "error" || res[0].Error == nil || len(res[0].Error.Errors) == 0 || res[0].Error.Errors[0].Field != "contacts[0].customFields.employees" {
		t.Errorf("batch item 0: %+v", res[0])
	}
	if res[1].Status != "created" {
		t.Fatalf("batch item 1: %+v", res[1])
	}
	if c := decode[customOut](t, b.do(t, http.MethodGet, "/api/contacts/"+res[1].ID.String(), nil)); c.CustomFields["employees"] != 3.0 || c.Type != "user" {
		t.Errorf("batch-created contact: %+v", c)
	}

	// Filters: equality, ranges for numbers and dates, multi_enum membership; unknown keys 400.
	if ids := b.idSet(t, "cf.industry=software"); !ids[id] || len(ids) != 1 {
		t.Errorf("cf.industry=software: %v", ids)
	}
	if ids := b.idSet(t, "cf.employees.gte=5&cf.employees.lte=7"); !ids[id] || len(ids) != 1 {
		t.Errorf("employees in [5,7]: %v", ids)
	}
	if ids := b.idSet(t, "cf.employees.gte=8"); ids[id] {
		t.Errorf("employees >= 8 selects the contact with 7")
	}
	if ids := b.idSet(t, "cf.renewal.lte=2027-03-01&cf.regions=eu"); !ids[id] {
		t.Errorf("renewal <= and regions has EU: %v", ids)
	}
	p = wantProblem(t, b.do(t, http.MethodGet, "/api/contacts?cf.nosuch=1&cf.other.gte=2", nil), http.StatusBadRequest)
	wantFields(t, p, "cf.nosuch", "cf.other.gte")
	p = wantProblem(t, b.do(t, http.MethodGet, "/api/contacts?cf.employees=lots&cf.industry.gte=a", nil), http.StatusUnprocessableEntity)
	wantFields(t, p, "cf.employees", "cf.industry.gte")
}

func TestCustomFieldRequiredUnique(t *testing.T) {
	t.Parallel()
	b := setup(t)
	old := b.createContact(t, body{"firstName": "Old"})
	b.defineField(t, body{"key": "customer_no", "label": "Customer number", "type": "text", "required": true, "unique": true})

	p := wantProblem(t, b.do(t, http.MethodPost, "/api/contacts", body{"firstName": "A"}), http.StatusUnprocessableEntity)
	wantFields(t, p, "customFields.customer_no")
	a := b.createContact(t, body{"firstName": "A", "customFields": body{"customer_no": "C-1"}})
	p = wantProblem(t, b.do(t, http.MethodPost, "/api/contacts", body{"firstName": "B", "customFields": body{"customer_no": "C-1"}}), http.StatusConflict)
	wantFields(t, p, "customFields.customer_no")
	if p.ExistingContactID != a.ID.String() {
		t.Errorf("conflict names %q, want %s", p.ExistingContactID, a.ID)
	}
	// A required value cannot be removed; a contact older than the rule may still change.
	p = wantProblem(t, b.do(t, http.MethodPatch, "/api/contacts/"+a.ID.String(), body{"customFields": body{"customer_no": nil}}), http.StatusUnprocessableEntity)
	wantFields(t, p, "customFields.customer_no")
	wantStatus(t, b.do(t, http.MethodPatch, "/api/contacts/"+old.ID.String(), body{"title": "CEO"}), http.StatusOK)

	// Concurrent writers of one value: exactly one wins.
	var wg sync.WaitGroup
	codes := make([]int, 6)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = b.do(t, http.MethodPost, "/api/contacts", body{"firstName": "R", "customFields": body{"customer_no": "RACE"}}).Code
		}()
	}
	wg.Wait()
	if n := b.count(t, "contacts", "custom_fields @> '{\"customer_no\": \"RACE\"}'"); n != 1 {
		t.Errorf("%d contacts have the unique value after a race (codes %v), want 1", n, codes)
	}

	// Making a field unique with duplicates is refused.
	b.defineField(t, body{"key": "team", "type": "text"})
	for range 2 {
		b.createContact(t, body{"firstName": "T", "customFields": body{"team": "blue", "customer_no": uuid.NewString()}})
	}
	p = wantProblem(t, b.do(t, http.MethodPatch, "/api/fields/team", body{"unique": true}), http.StatusConflict)
	wantFields(t, p, "unique")
}

func TestCustomFieldRenameAndDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.defineField(t, body{"key": "industry", "label": "Industry", "type": "enum", "options": []string{"Retail", "Software"}})
	c := b.createContact(t, body{"firstName": "Ada", "customFields": body{"industry": "Retail"}})

	// A rename changes the label only; key and type are fixed; labels are unique.
	rec := b.do(t, http.MethodPatch, "/api/fields/industry", body{"label": "Sector"})
	wantStatus(t, rec, http.StatusOK)
	if got := decode[struct{ Label, Key string }](t, rec); got.Label != "Sector" || got.Key != "industry" {
		t.Errorf("renamed: %+v", got)
	}
	wantFields(t, wantProblem(t, b.do(t, http.MethodPatch, "/api/fields/industry", body{"type": "text"}), http.StatusUnprocessableEntity), "type")
	b.defineField(t, body{"key": "tier", "type": "text"})
	wantFields(t, wantProblem(t, b.do(t, http.MethodPatch, "/api/fields/tier", body{"label": "sector"}), http.StatusConflict), "label")
	wantFields(t, wantProblem(t, b.do(t, http.MethodPost, "/api/fields", body{"key": "industry", "type": "text"}), http.StatusConflict), "key")
	// An option in use cannot be removed.
	wantFields(t, wantProblem(t, b.do(t, http.MethodPatch, "/api/fields/industry", body{"options": []string{"Software"}}), http.StatusConflict), "options")
	if got := decode[customOut](t, b.do(t, http.MethodGet, "/api/contacts/"+c.ID.String(), nil)).CustomFields["industry"]; got != "Retail" {
		t.Errorf("after the rename the value is %v", got)
	}

	// Deleting the definition removes the values; the history keeps them.
	wantStatus(t, b.do(t, http.MethodDelete, "/api/fields/industry", nil), http.StatusNoContent)
	wantProblem(t, b.do(t, http.MethodGet, "/api/fields/industry", nil), http.StatusNotFound)
	if got := decode[customOut](t, b.do(t, http.MethodGet, "/api/contacts/"+c.ID.String(), nil)).CustomFields; len(got) != 0 {
		t.Errorf("after delete the contact has %v", got)
	}
	rec = b.do(t, http.MethodGet, "/api/contacts/"+c.ID.String()+"/audit", nil)
	wantStatus(t, rec, http.StatusOK)
	var found bool
	for _, e := range decode[page[struct {
		Action  string
		Changes map[string]struct{ Before, After any }
	}]](t, rec).Data {
		if ch, ok := e.Changes["customFields.industry"]; ok && e.Action == "update" && ch.Before == "Retail" && ch.After == nil {
			found = true
		}
	}
	if !found {
		t.Errorf("the contact's history does not keep the deleted value: %s", rec.Body)
	}
	wantFields(t, wantProblem(t, b.do(t, http.MethodPatch, "/api/contacts/"+c.ID.String(), body{"customFields": body{"industry": "Retail"}}), http.StatusUnprocessableEntity),
		"customFields.industry")
}

func TestContactTypes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	user, account := b.createUser(t, "Owner"), b.createAccount(t, "Acme")
	plain := b.createContact(t, body{"firstName": "Plain"})
	owned := b.createContact(t, body{"firstName": "Owned", "relationships": []body{{"type": "user", "entityId": user}}})
	both := b.createContact(t, body{"firstName": "Both", "relationships": []body{{"type": "user", "entityId": user}, {"type": "account", "entityId": account}}})
	set := b.createContact(t, body{"firstName": "Set", "type": "account"})
	for _, tc := range []struct {
		id   uuid.UUID
		want string
	}{{plain.ID, "business"}, {owned.ID, "user"}, {both.ID, "account"}, {set.ID, "account"}} {
		if got := decode[customOut](t, b.do(t, http.MethodGet, "/api/contacts/"+tc.id.String(), nil)).Type; got != tc.want {
			t.Errorf("contact %s: type %q, want %q", tc.id, got, tc.want)
		}
	}
	if ids := b.idSet(t, "type=account"); len(ids) != 2 || !ids[both.ID] || !ids[set.ID] {
		t.Errorf("type=account: %v", ids)
	}
	if ids := b.idSet(t, "type=business"); len(ids) != 1 || !ids[plain.ID] {
		t.Errorf("type=business: %v", ids)
	}
	// null derives it again; the change is audited.
	rec := b.do(t, http.MethodPatch, "/api/contacts/"+set.ID.String(), body{"type": nil})
	wantStatus(t, rec, http.StatusOK)
	if got := decode[customOut](t, rec).Type; got != "business" {
		t.Errorf("after type null: %q", got)
	}
	if n := b.count(t, "audit_log", "contact_id = $1 AND changes ? 'type'", set.ID); n != 2 {
		t.Errorf("%d audit entries of the type, want 2", n)
	}
	wantFields(t, wantProblem(t, b.do(t, http.MethodPost, "/api/contacts", body{"firstName": "X", "type": "partner"}), http.StatusUnprocessableEntity), "type")
	wantFields(t, wantProblem(t, b.do(t, http.MethodGet, "/api/contacts?type=partner", nil), http.StatusUnprocessableEntity), "type")
}

func TestAccountHierarchy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	root := b.createAccount(t, "Root")
	rec := b.do(t, http.MethodPost, "/api/accounts", body{"name": "Child", "parentId": root})
	wantStatus(t, rec, http.StatusCreated)
	child := decode[struct{ ID, ParentID uuid.UUID }](t, rec)
	if child.ParentID != root {
		t.Fatalf("child's parent %s, want %s", child.ParentID, root)
	}
	rec = b.do(t, http.MethodPost, "/api/accounts", body{"name": "Grandchild", "parentId": child.ID})
	wantStatus(t, rec, http.StatusCreated)
	grand := decode[struct{ ID uuid.UUID }](t, rec).ID

	// Cycles are refused, naming parentId: itself, a descendant.
	for _, parent := range []uuid.UUID{root, grand} {
		p := wantProblem(t, b.do(t, http.MethodPatch, "/api/accounts/"+root.String(), body{"parentId": parent}), http.StatusUnprocessableEntity)
		wantFields(t, p, "parentId")
	}
	wantFields(t, wantProblem(t, b.do(t, http.MethodPatch, "/api/accounts/"+root.String(), body{"parentId": uuid.New()}), http.StatusUnprocessableEntity), "parentId")

	// Concurrent changes that would together make a cycle: at most one succeeds.
	a, c := b.createAccount(t, "A"), b.createAccount(t, "C")
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i, pair := range [][2]uuid.UUID{{a, c}, {c, a}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = b.do(t, http.MethodPatch, "/api/accounts/"+pair[0].String(), body{"parentId": pair[1]}).Code
		}()
	}
	wg.Wait()
	if codes[0] == http.StatusOK && codes[1] == http.StatusOK {
		t.Errorf("both halves of a cycle were accepted")
	}

	inRoot := b.createContact(t, body{"firstName": "R", "relationships": []body{{"type": "account", "entityId": root}}})
	inGrand := b.createContact(t, body{"firstName": "G", "relationships": []body{{"type": "account", "entityId": grand}}})
	if ids := b.idSet(t, "account="+root.String()); len(ids) != 1 || !ids[inRoot.ID] {
		t.Errorf("account=root: %v", ids)
	}
	if ids := b.idSet(t, "account="+root.String()+"&includeChildAccounts=true"); len(ids) != 2 || !ids[inGrand.ID] {
		t.Errorf("account=root with children: %v", ids)
	}
	// Back to a root.
	rec = b.do(t, http.MethodPatch, "/api/accounts/"+grand.String(), body{"parentId": nil})
	wantStatus(t, rec, http.StatusOK)
	var out map[string]json.RawMessage
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	if string(out["parentId"]) != "null" {
		t.Errorf("after parentId null: %s", out["parentId"])
	}
}
