package api_test

import (
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func TestCreateContact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.createAccount(t, "Acme")
	user := b.createUser(t, "Owner")
	rec := b.do(t, http.MethodPost, "/api/contacts", body{
		"firstName": "  Ada ", "lastName": "Lovelace", "email": "ada@Example.COM", "phone": "+1 (415) 555-2671",
		"title": "CTO", "company": "Acme",
		"preferences": body{"communicationMethods": []string{"email", "SMS"}, "notifications": body{"email": true}},
		"relationships": []body{
			{"type": "account", "entityId": acct, "role": "decision maker", "isPrimary": true},
			{"entityType": "user", "entityId": user, "role": "owner"},
		},
	}, as(b.writer))
	wantStatus(t, rec, http.StatusCreated)
	got := decode[contactOut](t, rec)
	if loc := rec.Header().Get("Location"); loc != "/api/contacts/"+got.ID.String() {
		t.Errorf("Location %q, want /api/contacts/%s", loc, got.ID)
	}
	if etag := rec.Header().Get("ETag"); etag != `"1"` {
		t.Errorf("ETag %q, want \"1\"", etag)
	}
	if deref(got.FirstName) != "Ada" || deref(got.Email) != "ada@Example.COM" || deref(got.Company) != "Acme" ||
		got.Status != "active" || got.Version != 1 {
		t.Errorf("created %+v", got)
	}
	if deref(got.Normalized.Email) != "ada@example.com" {
		t.Errorf("normalized email %v, want ada@example.com", deref(got.Normalized.Email))
	}
	if !slices.Equal(got.Preferences.CommunicationMethods, []string{"email", "sms"}) ||
		deref(got.Preferences.Notifications.Email) != true || got.Preferences.Notifications.SMS != nil {
		t.Errorf("preferences %+v", got.Preferences)
	}
	if len(got.Relationships) != 2 {
		t.Fatalf("relationships %+v, want 2", got.Relationships)
	}
	r0, r1 := got.Relationships[0], got.Relationships[1]
	if r0.EntityType != "account" || r0.EntityID != acct || r0.Role != "decision maker" || !r0.IsPrimary {
		t.Errorf("account relationship %+v", r0)
	}
	if r1.EntityType != "user" || r1.EntityID != user || r1.Role != "owner" || r1.IsPrimary {
		t.Errorf("user relationship %+v", r1)
	}

	// The JSON names are exactly the spec's camelCase ones, nothing more.
	raw := decode[map[string]any](t, rec)
	wantKeys := []string{"city", "company", "country", "createdAt", "customFields", "email", "extra", "firstName", "id", "lastName", "mergedInto",
		"normalized", "phone", "postalCode", "preferences", "region", "relationships", "status", "street", "tags", "title", "type", "updatedAt",
		"version"}
	if k := sortedKeys(raw); !slices.Equal(k, wantKeys) {
		t.Errorf("contact keys %q, want %q", k, wantKeys)
	}
	if k := sortedKeys(raw["preferences"].(map[string]any)); !slices.Equal(k, []string{"communicationMethods", "frequency", "notifications", "quietHours", "timeZone"}) {
		t.Errorf("preferences keys %q", k)
	}
	if k := sortedKeys(raw["normalized"].(map[string]any)); !slices.Equal(k, []string{"at", "email", "phone", "phoneExtension", "phoneValid"}) {
		t.Errorf("normalized keys %q", k)
	}
	rel := raw["relationships"].([]any)[0].(map[string]any)
	if k := sortedKeys(rel); !slices.Equal(k, []string{"createdAt", "entityId", "entityType", "id", "isPrimary", "role"}) {
		t.Errorf("relationship keys %q", k)
	}

	// The contact, its relationships, their audit entries and the normalize job were all written.
	if n := b.count(t, "contacts", "id = $1", got.ID); n != 1 {
		t.Errorf("%d contact rows", n)
	}
	if n := b.count(t, "audit_log", "contact_id = $1", got.ID); n != 3 {
		t.Errorf("%d audit rows, want 3 (contact and two relationships)", n)
	}
	if n := b.count(t, "river_job", "kind = 'normalize_contact' AND args->>'contact_id' = $1", got.ID.String()); n != 1 {
		t.Errorf("%d normalize jobs, want 1", n)
	}
	// GET answers the same contact.
	again := b.getContact(t, got.ID)
	if again.ID != got.ID || len(again.Relationships) != 2 || again.Version != 1 {
		t.Errorf("GET answered %+v", again)
	}
}

func TestCreateContactMinimal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name string
		in   body
	}{
		{"first name only", body{"firstName": "Ada"}},
		{"last name only", body{"lastName": "Lovelace"}},
		{"email only", body{"email": "only@example.com"}},
		{"phone only", body{"phone": "555-0100"}},
		{"nulls are absent", body{"firstName": "Ada", "email": nil, "relationships": nil, "preferences": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := b.createContact(t, tt.in)
			if got.Relationships == nil || got.Preferences.CommunicationMethods == nil {
				t.Errorf("empty lists must be [] not null: %+v", got)
			}
			// Every create is normalized and keyed, then checked for duplicates.
			wantJobs := 1
			if n := b.count(t, "river_job", "args->>'contact_id' = $1", got.ID.String()); n != wantJobs {
				t.Errorf("%d normalize jobs, want %d", n, wantJobs)
			}
		})
	}
}

// TestRelationshipTypeSynonyms checks that type and entityType are the same field, in a
// contact's relationships and on the relationships route, and that an error about the value
// names the one the client sent.
func TestRelationshipTypeSynonyms(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.createAccount(t, "Acme")
	user := b.createUser(t, "Owner")
	tests := []struct {
		name string
		rel  body
		want string
	}{
		{"type user", body{"type": "user", "entityId": user}, "user"},
		{"entityType user", body{"entityType": "user", "entityId": user}, "user"},
		{"type account", body{"type": "account", "entityId": acct}, "account"},
		{"entityType account", body{"entityType": "Account", "entityId": acct, "isPrimary": false}, "account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := b.createContact(t, body{"firstName": tt.name, "relationships": []body{tt.rel}})
			if len(got.Relationships) != 1 || got.Relationships[0].EntityType != tt.want {
				t.Fatalf("relationships %+v, want one %s", got.Relationships, tt.want)
			}
			if tt.want == "user" && got.Relationships[0].Role != "associated" {
				t.Errorf("user relationship without a role has role %q, want associated", got.Relationships[0].Role)
			}
			other := b.createContact(t, body{"firstName": tt.name})
			rec := b.do(t, http.MethodPost, "/api/contacts/"+other.ID.String()+"/relationships", tt.rel)
			wantStatus(t, rec, http.StatusCreated)
			if r := decode[relationshipOut](t, rec); r.EntityType != tt.want {
				t.Errorf("relationship %+v, want %s", r, tt.want)
			}
		})
	}
	// A bad entity type is reported under the name the client sent it in.
	invalid := []struct {
		name  string
		rel   body
		field string
	}{
		{"unknown entityType", body{"entityType": "team", "entityId": user}, "entityType"},
		{"unknown type", body{"type": "team", "entityId": user}, "type"},
		{"empty entityType", body{"entityType": " ", "entityId": user}, "entityType"},
		{"null entityType", body{"entityType": nil, "entityId": user}, "entityType"},
		{"null type and unknown entityType", body{"type": nil, "entityType": "team", "entityId": user}, "entityType"},
		{"neither", body{"entityId": user}, "type"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := b.do(t, http.MethodPost, "/api/contacts", body{"firstName": "Ada", "relationships": []body{{"type": "user", "entityId": user}, tt.rel}})
			wantFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity), "relationships[1]."+tt.field)
			c := b.createContact(t, body{"firstName": tt.name})
			rec = b.do(t, http.MethodPost, "/api/contacts/"+c.ID.String()+"/relationships", tt.rel)
			wantFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity), tt.field)
		})
	}
}

func TestCreateContactInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	user := b.createUser(t, "Owner")
	long := strings.Repeat("x", 101)
	tests := []struct {
		name   string
		in     any
		fields []string
	}{
		{"every wrong field at once", body{
			"firstName": "Ada", "email": "not-an-email", "phone": "12",
			"relationships": []body{{"type": "user", "entityId": "not-a-uuid"}},
		}, []string{"email", "phone", "relationships[0].entityId"}},
		{"no name, email or phone", body{"title": "CTO", "company": "Acme"}, []string{"firstName"}},
		{"empty strings are no name", body{"firstName": "  ", "lastName": ""}, []string{"firstName"}},
		{"too long", body{"firstName": long, "lastName": long}, []string{"firstName", "lastName"}},
		{"control characters", body{"firstName": "A\u0000da", "title": "x\ty"}, []string{"firstName", "title"}},
		{"phone with too many digits", body{"phone": "123456789012345678901"}, []string{"phone"}},
		{"email too long", body{"email": strings.Repeat("a", 250) + "@example.com"}, []string{"email"}},
		{"email without domain", body{"email": "ada@"}, []string{"email"}},
		{"wrong types", body{"firstName": 1, "lastName": true, "email": []string{"a"}, "phone": body{}},
			[]string{"firstName", "lastName", "email", "phone"}},
		{"bad preferences", body{"firstName": "Ada", "preferences": body{"communicationMethods": []string{"email", "pigeon", "email"}}},
			[]string{"preferences.communicationMethods[1]", "preferences.communicationMethods[2]"}},
		{"mistyped preferences", body{"firstName": "Ada", "preferences": body{"communicationMethods": "email", "notifications": body{"email": "yes"}}},
			[]string{"preferences.communicationMethods", "preferences.notifications.email"}},
		// Mistyped fields (decoding) and invalid values (validation) are reported together.
		{"mistyped and invalid fields together", body{"firstName": 7, "email": "nope", "phone": "1"},
			[]string{"firstName", "email", "phone"}},
		{"preferences not an object", body{"firstName": "Ada", "preferences": []int{1}}, []string{"preferences"}},
		{"relationships not an array", body{"firstName": "Ada", "relationships": "user"}, []string{"relationships"}},
		{"relationship not an object", body{"firstName": "Ada", "relationships": []any{"x"}}, []string{"relationships[0]"}},
		{"relationship without type", body{"firstName": "Ada", "relationships": []body{{"entityId": user}}},
			[]string{"relationships[0].type"}},
		{"relationship with unknown type", body{"firstName": "Ada", "relationships": []body{{"type": "team", "entityId": user}}},
			[]string{"relationships[0].type"}},
		{"primary user relationship", body{"firstName": "Ada", "relationships": []body{{"type": "user", "entityId": user, "isPrimary": true}}},
			[]string{"relationships[0].isPrimary"}},
		{"repeated relationship", body{"firstName": "Ada", "relationships": []body{
			{"type": "user", "entityId": user, "role": "owner"}, {"type": "user", "entityId": user, "role": "owner"}}},
			[]string{"relationships[1].entityId"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := b.do(t, http.MethodPost, "/api/contacts", tt.in)
			wantFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity), tt.fields...)
		})
	}
	// Repeats are found as the unique indexes find them: by UUID, not its text, and by the
	// case-folded role; they are named, not left to the index's 409.
	acct := b.createAccount(t, "Acme")
	for _, tt := range []struct {
		name string
		rels []body
	}{
		{"repeated user relationship in another case", []body{
			{"type": "user", "entityId": user, "role": "Owner"}, {"type": "user", "entityId": user, "role": "owner"}}},
		{"repeated account in another UUID form", []body{
			{"type": "account", "entityId": acct.String()}, {"type": "account", "entityId": "urn:uuid:" + acct.String()}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := b.do(t, http.MethodPost, "/api/contacts", body{"firstName": "Ada", "relationships": tt.rels})
			wantFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity), "relationships[1].entityId")
		})
	}
	t.Cleanup(func() {
		// After every subtest: no refused create wrote a contact.
		if n := b.count(t, "contacts", "true"); n != 0 {
			t.Errorf("%d contacts written by refused creates", n)
		}
	})
}

// TestCreateContactUnknownEntity checks that a relationship to an entity that does not exist
// is a 422 naming it, and that the whole create is rolled back.
func TestCreateContactUnknownEntity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.createAccount(t, "Acme")
	user := b.createUser(t, "Owner")
	missing := uuid.Must(uuid.NewV7())
	rec := b.do(t, http.MethodPost, "/api/contacts", body{
		"firstName": "Ada", "email": "ada@example.com", "phone": "+1 415 555 2671",
		"relationships": []body{
			{"type": "account", "entityId": acct, "isPrimary": true},
			{"type": "user", "entityId": missing},
			{"type": "user", "entityId": user},
			{"type": "account", "entityId": user}, // a user's id is not an account's
		},
	})
	p := wantProblem(t, rec, http.StatusUnprocessableEntity)
	wantFields(t, p, "relationships[1].entityId", "relationships[3].entityId")
	for _, table := range []string{"contacts", "audit_log", "river_job", "contact_users", "contact_accounts"} {
		if n := b.count(t, table, "true"); n != 0 {
			t.Errorf("%d rows in %s after a refused create", n, table)
		}
	}
}

func TestDuplicateEmail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := b.createContact(t, body{"firstName": "Ada", "email": "ada@example.com"})
	tests := []struct {
		name   string
		query  string
		email  string
		status int
	}{
		{"same address", "", "ada@example.com", http.StatusConflict},
		{"domain case differs", "", "ada@EXAMPLE.com", http.StatusConflict},
		{"surrounding spaces", "", "  ada@Example.Com ", http.StatusConflict},
		{"allowDuplicate=false", "?allowDuplicate=false", "ada@example.com", http.StatusConflict},
		{"other address", "", "ada2@example.com", http.StatusCreated},
		{"allowDuplicate=true", "?allowDuplicate=true", "ada@EXAMPLE.COM", http.StatusCreated},
		{"allowDuplicate=1", "?allowDuplicate=1", "ada@example.com", http.StatusCreated},
		{"allowDuplicate not a boolean", "?allowDuplicate=maybe", "ada@example.com", http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := b.do(t, http.MethodPost, "/api/contacts"+tt.query, body{"firstName": "Twin", "email": tt.email})
			switch tt.status {
			case http.StatusConflict:
				p := wantProblem(t, rec, http.StatusConflict)
				if p.ExistingContactID != first.ID.String() {
					t.Errorf("existingContactId %q, want %s", p.ExistingContactID, first.ID)
				}
			case http.StatusCreated:
				wantStatus(t, rec, http.StatusCreated)
			default:
				wantFields(t, wantProblem(t, rec, tt.status), "allowDuplicate")
			}
		})
	}
	t.Run("IDNA forms of a domain are the same address", func(t *testing.T) {
		t.Parallel()
		idn := b.createContact(t, body{"email": "idn@Bücher.example"})
		rec := b.do(t, http.MethodPost, "/api/contacts", body{"email": "idn@XN--BCHER-KVA.example"})
		if p := wantProblem(t, rec, http.StatusConflict); p.ExistingContactID != idn.ID.String() {
			t.Errorf("existingContactId %q, want %s", p.ExistingContactID, idn.ID)
		}
	})
	t.Run("archived contact does not block", func(t *testing.T) {
		t.Parallel()
		c := b.createContact(t, body{"email": "gone@example.com"})
		wantStatus(t, b.do(t, http.MethodDelete, "/api/contacts/"+c.ID.String(), nil), http.StatusNoContent)
		wantStatus(t, b.do(t, http.MethodPost, "/api/contacts", body{"email": "gone@EXAMPLE.com"}), http.StatusCreated)
	})
}

// TestUpdateContactDuplicateEmail checks that an update giving a contact the normalized email
// of another active contact is a 409 naming it, as a create is, unless allowDuplicate is true;
// that a contact keeps its own address; and that archived and merged contacts block nothing.
func TestUpdateContactDuplicateEmail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ada := b.createContact(t, body{"firstName": "Ada", "email": "ada@example.com"})
	archived := b.createContact(t, body{"firstName": "Gone", "email": "gone@example.com"})
	wantStatus(t, b.do(t, http.MethodDelete, "/api/contacts/"+archived.ID.String(), nil), http.StatusNoContent)
	keeper := b.createContact(t, body{"firstName": "Keeper", "email": "keeper@example.com"})
	merged := b.createContact(t, body{"firstName": "Merged", "email": "merged@example.com"})
	wantStatus(t, b.do(t, http.MethodPost, "/api/contacts/merge", body{"contactIds": []uuid.UUID{keeper.ID, merged.ID}, "survivorId": keeper.ID}), http.StatusOK)
	tests := []struct {
		name   string
		method string
		query  string
		start  string // the contact's email before the update
		email  string
		status int
	}{
		{"another contact's address", http.MethodPatch, "", "grace@example.com", "ada@example.com", http.StatusConflict},
		{"with PUT", http.MethodPut, "", "grace@example.com", "ada@example.com", http.StatusConflict},
		{"domain case differs", http.MethodPatch, "", "grace@example.com", " ada@EXAMPLE.com", http.StatusConflict},
		{"from no email", http.MethodPatch, "", "", "ada@example.com", http.StatusConflict},
		{"allowDuplicate=false", http.MethodPatch, "?allowDuplicate=false", "grace@example.com", "ada@example.com", http.StatusConflict},
		{"allowDuplicate=true", http.MethodPatch, "?allowDuplicate=true", "grace@example.com", "ada@example.com", http.StatusOK},
		{"allowDuplicate not a boolean", http.MethodPut, "?allowDuplicate=maybe", "grace@example.com", "ada@example.com", http.StatusUnprocessableEntity},
		{"a free address", http.MethodPatch, "", "grace@example.com", "grace@navy.example", http.StatusOK},
		{"an archived contact's address", http.MethodPatch, "", "grace@example.com", "gone@example.com", http.StatusOK},
		{"a merged contact's address", http.MethodPatch, "", "grace@example.com", "merged@example.com", http.StatusOK},
		// The contact shares ada@example.com with Ada already (created with allowDuplicate):
		// spelling its own address another way is no new conflict.
		{"its own address", http.MethodPut, "", "ada@example.com", "ada@EXAMPLE.COM", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := body{"firstName": "Grace"}
			if tt.start != "" {
				start["email"] = tt.start
			}
			c := b.createContact(t, start)
			rec := b.do(t, tt.method, "/api/contacts/"+c.ID.String()+tt.query, body{"email": tt.email, "title": "Admiral"})
			switch tt.status {
			case http.StatusOK:
				wantStatus(t, rec, http.StatusOK)
				if got := b.getContact(t, c.ID); deref(got.Email) != strings.TrimSpace(tt.email) || got.Version != 2 {
					t.Errorf("after the update: email %v, version %d", deref(got.Email), got.Version)
				}
				return
			case http.StatusConflict:
				if p := wantProblem(t, rec, http.StatusConflict); p.ExistingContactID != ada.ID.String() {
					t.Errorf("existingContactId %q, want %s", p.ExistingContactID, ada.ID)
				}
			default:
				wantFields(t, wantProblem(t, rec, tt.status), "allowDuplicate")
			}
			if got := b.getContact(t, c.ID); got.Version != 1 || deref(got.Title) != nil {
				t.Errorf("a refused update changed the contact: version %d, title %v", got.Version, deref(got.Title))
			}
		})
	}
	t.Run("an archived contact may take an active contact's address", func(t *testing.T) {
		t.Parallel()
		c := b.createContact(t, body{"firstName": "Old", "email": "old@example.com"})
		wantStatus(t, b.do(t, http.MethodDelete, "/api/contacts/"+c.ID.String(), nil), http.StatusNoContent)
		wantStatus(t, b.do(t, http.MethodPatch, "/api/contacts/"+c.ID.String(), body{"email": "ada@example.com"}), http.StatusOK)
	})
}

// TestBadBodies checks the 400s of every endpoint that takes a body: not JSON, not an object,
// unknown fields (each named).
func TestBadBodies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.createContact(t, body{"firstName": "Ada"}).ID.String()
	endpoints := []struct{ method, path string }{
		{http.MethodPost, "/api/contacts"},
		{http.MethodPut, "/api/contacts/" + id},
		{http.MethodPatch, "/api/contacts/" + id},
		{http.MethodPost, "/api/contacts/" + id + "/relationships"},
		{http.MethodPost, "/api/users"},
		{http.MethodPost, "/api/accounts"},
	}
	bodies := []struct {
		name   string
		body   string
		fields []string
	}{
		{"unparseable", `{"firstName": "Ada",`, nil},
		{"garbage", `firstName=Ada`, nil},
		{"empty", ``, nil},
		{"whitespace", " \n", nil},
		{"array", `[{"firstName": "Ada"}]`, nil},
		{"string", `"Ada"`, nil},
		{"number", `42`, nil},
		{"null", `null`, nil},
		{"two objects", `{"name": "a"} {"name": "b"}`, nil},
		{"unknown field", `{"name": "Ada", "firstName": "Ada", "entityId": "x", "shoeSize": 42}`, []string{"shoeSize"}},
	}
	for _, e := range endpoints {
		for _, bb := range bodies {
			t.Run(e.method+" "+strings.SplitN(e.path[5:], "/", 2)[0]+" "+bb.name, func(t *testing.T) {
				t.Parallel()
				rec := b.do(t, e.method, e.path, bb.body)
				p := wantProblem(t, rec, http.StatusBadRequest)
				if bb.fields == nil {
					return
				}
				// Each endpoint reads a different set of fields: only shoeSize is unknown to all.
				if !slices.Contains(p.fields(), "shoeSize") {
					t.Errorf("unknown field not named: %+v", p.Errors)
				}
			})
		}
	}
	t.Run("nested unknown fields named with their paths", func(t *testing.T) {
		t.Parallel()
		rec := b.do(t, http.MethodPost, "/api/contacts", body{
			"firstName": "Ada", "nickname": "A",
			"preferences":   body{"colour": "red", "notifications": body{"push": true}},
			"relationships": []body{{"type": "user", "entityId": uuid.New(), "since": 2020}},
		})
		wantFields(t, wantProblem(t, rec, http.StatusBadRequest),
			"nickname", "preferences.colour", "preferences.notifications.push", "relationships[0].since")
	})
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	big := `{"firstName": "` + strings.Repeat("a", 1<<20) + `"}`
	id := b.createContact(t, body{"firstName": "Ada"}).ID.String()
	tests := []struct {
		name, method, path string
		chunked            bool
	}{
		{"create with Content-Length", http.MethodPost, "/api/contacts", false},
		{"create chunked", http.MethodPost, "/api/contacts", true},
		{"update chunked", http.MethodPatch, "/api/contacts/" + id, true},
		{"user chunked", http.MethodPost, "/api/users", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := []reqOpt{}
			if tt.chunked {
				opts = append(opts, func(r *http.Request) { r.ContentLength = -1 })
			}
			wantProblem(t, b.do(t, tt.method, tt.path, big, opts...), http.StatusRequestEntityTooLarge)
		})
	}
	t.Run("just under the limit is read", func(t *testing.T) {
		t.Parallel()
		// A valid JSON object of exactly 1 MiB: its value is too long (422), but it was read.
		pad := 1<<20 - len(`{"firstName": ""}`)
		rec := b.do(t, http.MethodPost, "/api/contacts", `{"firstName": "`+strings.Repeat("a", pad)+`"}`)
		wantFields(t, wantProblem(t, rec, http.StatusUnprocessableEntity), "firstName")
	})
}

func TestGetContact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.createContact(t, body{"firstName": "Ada", "email": "ada@example.com"})
	rec := b.do(t, http.MethodGet, "/api/contacts/"+c.ID.String(), nil, as(b.reader))
	wantStatus(t, rec, http.StatusOK)
	if etag := rec.Header().Get("ETag"); etag != `"1"` {
		t.Errorf("ETag %q, want \"1\"", etag)
	}
	wantStatus(t, b.do(t, http.MethodPatch, "/api/contacts/"+c.ID.String(), body{"title": "CTO"}), http.StatusOK)
	rec = b.do(t, http.MethodGet, "/api/contacts/"+c.ID.String(), nil, as(b.reader))
	if got := decode[contactOut](t, rec); got.Version != 2 || rec.Header().Get("ETag") != `"2"` || deref(got.Title) != "CTO" {
		t.Errorf("after an update: version %d, ETag %q, title %v", got.Version, rec.Header().Get("ETag"), deref(got.Title))
	}
	wantProblem(t, b.do(t, http.MethodGet, "/api/contacts/"+uuid.NewString(), nil), http.StatusNotFound)
}

func TestUpdateContact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	start := body{
		"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "phone": "+1 415 555 2671",
		"title": "CTO", "company": "Acme",
		"preferences": body{"communicationMethods": []string{"email", "phone"}, "notifications": body{"email": true, "sms": false}},
	}
	type want struct {
		firstName, email, phone, title, company any
		methods                                 []string
		notifyEmail, notifySMS                  any
	}
	unchanged := want{"Ada", "ada@example.com", "+1 415 555 2671", "CTO", "Acme", []string{"email", "phone"}, true, false}
	tests := []struct {
		name   string
		method string
		patch  body
		want   func(w want) want
	}{
		{"empty patch keeps everything", http.MethodPatch, body{}, func(w want) want { return w }},
		{"absent fields are kept", http.MethodPut, body{"title": "CEO"}, func(w want) want { w.title = "CEO"; return w }},
		{"null clears", http.MethodPut, body{"title": nil, "company": nil}, func(w want) want { w.title, w.company = nil, nil; return w }},
		{"empty string clears", http.MethodPatch, body{"company": ""}, func(w want) want { w.company = nil; return w }},
		{"values are trimmed", http.MethodPatch, body{"firstName": "  Augusta "}, func(w want) want { w.firstName = "Augusta"; return w }},
		{"email and phone change", http.MethodPatch, body{"email": "ada@lovelace.org", "phone": "+44 20 7946 0958"},
			func(w want) want { w.email, w.phone = "ada@lovelace.org", "+44 20 7946 0958"; return w }},
		{"notifications.sms merges", http.MethodPatch, body{"preferences": body{"notifications": body{"sms": true}}},
			func(w want) want { w.notifySMS = true; return w }},
		{"communicationMethods replace", http.MethodPut, body{"preferences": body{"communicationMethods": []string{"chat"}}},
			func(w want) want { w.methods = []string{"chat"}; return w }},
		{"notification null clears one flag", http.MethodPatch, body{"preferences": body{"notifications": body{"email": nil}}},
			func(w want) want { w.notifyEmail = nil; return w }},
		{"notifications null clears both", http.MethodPatch, body{"preferences": body{"notifications": nil}},
			func(w want) want { w.notifyEmail, w.notifySMS = nil, nil; return w }},
		{"preferences null resets", http.MethodPatch, body{"preferences": nil},
			func(w want) want { w.methods, w.notifyEmail, w.notifySMS = []string{}, nil, nil; return w }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := b.createContact(t, start)
			rec := b.do(t, tt.method, "/api/contacts/"+c.ID.String(), tt.patch, as(b.writer))
			wantStatus(t, rec, http.StatusOK)
			for _, got := range []contactOut{decode[contactOut](t, rec), b.getContact(t, c.ID)} {
				w := tt.want(unchanged)
				g := want{deref(got.FirstName), deref(got.Email), deref(got.Phone), deref(got.Title), deref(got.Company),
					got.Preferences.CommunicationMethods, deref(got.Preferences.Notifications.Email), deref(got.Preferences.Notifications.SMS)}
				if !slices.Equal(g.methods, w.methods) {
					t.Errorf("communicationMethods %q, want %q", g.methods, w.methods)
				}
				g.methods, w.methods = nil, nil
				if !reflect.DeepEqual(g, w) {
					t.Errorf("after %s %v:\n got %+v\nwant %+v", tt.method, tt.patch, g, w)
				}
				if deref(got.LastName) != "Lovelace" {
					t.Errorf("lastName %v, want it kept", deref(got.LastName))
				}
			}
			wantVersion := int64(2)
			if tt.name == "empty patch keeps everything" {
				wantVersion = 1 // a change that changes nothing is no new version
			}
			if got := decode[contactOut](t, rec); got.Version != wantVersion || rec.Header().Get("ETag") == "" {
				t.Errorf("version %d (ETag %q), want %d", got.Version, rec.Header().Get("ETag"), wantVersion)
			}
		})
	}
}

func TestUpdateContactInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name   string
		start  body
		patch  body
		status int
		fields []string
	}{
		{"removing name, email and phone", body{"firstName": "Ada", "email": "ada@example.com", "phone": "555-0100"},
			body{"firstName": nil, "email": nil, "phone": ""}, http.StatusUnprocessableEntity, []string{"firstName"}},
		{"removing the only field", body{"email": "solo@example.com"}, body{"email": nil}, http.StatusUnprocessableEntity, []string{"firstName"}},
		{"every wrong field", body{"firstName": "Ada"},
			body{"email": "nope", "phone": "1", "lastName": strings.Repeat("x", 101), "preferences": body{"communicationMethods": []string{"fax"}}},
			http.StatusUnprocessableEntity, []string{"email", "phone", "lastName", "preferences.communicationMethods[0]"}},
		{"wrong types", body{"firstName": "Ada"}, body{"title": 3, "preferences": body{"notifications": body{"sms": "no"}}},
			http.StatusUnprocessableEntity, []string{"title", "preferences.notifications.sms"}},
		{"unknown field", body{"firstName": "Ada"}, body{"id": uuid.NewString(), "version": 7}, http.StatusBadRequest, []string{"id", "version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := b.createContact(t, tt.start)
			rec := b.do(t, http.MethodPut, "/api/contacts/"+c.ID.String(), tt.patch)
			wantFields(t, wantProblem(t, rec, tt.status), tt.fields...)
			if got := b.getContact(t, c.ID); got.Version != 1 {
				t.Errorf("a refused update changed the contact to version %d", got.Version)
			}
		})
	}
	t.Run("unknown contact", func(t *testing.T) {
		t.Parallel()
		wantProblem(t, b.do(t, http.MethodPatch, "/api/contacts/"+uuid.NewString(), body{"title": "x"}), http.StatusNotFound)
	})
}

func TestUpdateContactIfMatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name    string
		ifMatch func(etag string) string
		status  int
	}{
		{"current", func(e string) string { return e }, http.StatusOK},
		{"current weak", func(e string) string { return "W/" + e }, http.StatusOK},
		{"any", func(string) string { return "*" }, http.StatusOK},
		{"stale", func(string) string { return `"0"` }, http.StatusPreconditionFailed},
		{"future", func(string) string { return `"99"` }, http.StatusPreconditionFailed},
		{"garbage", func(string) string { return `"abc"` }, http.StatusPreconditionFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := b.createContact(t, body{"firstName": "Ada"})
			rec := b.do(t, http.MethodPatch, "/api/contacts/"+c.ID.String(), body{"title": "v2"})
			wantStatus(t, rec, http.StatusOK)
			etag := rec.Header().Get("ETag")
			rec = b.do(t, http.MethodPut, "/api/contacts/"+c.ID.String(), body{"title": "v3"}, withHeader("If-Match", tt.ifMatch(etag)))
			if tt.status != http.StatusOK {
				wantProblem(t, rec, tt.status)
				if got := b.getContact(t, c.ID); deref(got.Title) != "v2" || got.Version != 2 {
					t.Errorf("a 412 changed the contact: %v v%d", deref(got.Title), got.Version)
				}
				return
			}
			wantStatus(t, rec, http.StatusOK)
			if got := decode[contactOut](t, rec); deref(got.Title) != "v3" || got.Version != 3 || rec.Header().Get("ETag") != `"3"` {
				t.Errorf("updated to %v v%d ETag %s", deref(got.Title), got.Version, rec.Header().Get("ETag"))
			}
		})
	}
	t.Run("the old ETag is stale after an update", func(t *testing.T) {
		t.Parallel()
		c := b.createContact(t, body{"firstName": "Ada"})
		wantStatus(t, b.do(t, http.MethodPatch, "/api/contacts/"+c.ID.String(), body{"title": "a"}, withHeader("If-Match", `"1"`)), http.StatusOK)
		wantProblem(t, b.do(t, http.MethodPatch, "/api/contacts/"+c.ID.String(), body{"title": "b"}, withHeader("If-Match", `"1"`)), http.StatusPreconditionFailed)
	})
}

func TestArchiveContact(t *testing.T) {
	t.Parallel()
	b := setup(t)
	keep := b.createContact(t, body{"firstName": "Keep"})
	gone := b.createContact(t, body{"firstName": "Gone"})
	wantStatus(t, b.do(t, http.MethodDelete, "/api/contacts/"+gone.ID.String(), nil, as(b.writer)), http.StatusNoContent)

	got := b.getContact(t, gone.ID)
	if got.Status != "archived" || got.Version != 2 {
		t.Errorf("archived contact: status %s, version %d", got.Status, got.Version)
	}
	ids := func(query string) []uuid.UUID {
		rec := b.do(t, http.MethodGet, "/api/contacts"+query, nil)
		wantStatus(t, rec, http.StatusOK)
		var out []uuid.UUID
		for _, c := range decode[page[contactOut]](t, rec).Data {
			out = append(out, c.ID)
		}
		return out
	}
	if got := ids(""); !slices.Equal(got, []uuid.UUID{keep.ID}) {
		t.Errorf("default list %v, want only %s", got, keep.ID)
	}
	if got := ids("?status=archived"); !slices.Equal(got, []uuid.UUID{gone.ID}) {
		t.Errorf("archived list %v, want only %s", got, gone.ID)
	}
	if got := ids("?status=all"); len(got) != 2 {
		t.Errorf("status=all lists %v, want both", got)
	}
	// Archiving again is a no-op; an unknown contact is a 404.
	wantStatus(t, b.do(t, http.MethodDelete, "/api/contacts/"+gone.ID.String(), nil), http.StatusNoContent)
	if got := b.getContact(t, gone.ID); got.Version != 2 {
		t.Errorf("archiving twice bumped the version to %d", got.Version)
	}
	wantProblem(t, b.do(t, http.MethodDelete, "/api/contacts/"+uuid.NewString(), nil), http.StatusNotFound)
}

func TestAuditLog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.createAccount(t, "Acme")
	rec := b.do(t, http.MethodPost, "/api/contacts", body{"firstName": "Ada", "email": "ada@example.com",
		"relationships": []body{{"type": "account", "entityId": acct, "role": "buyer"}}}, as(b.writer))
	wantStatus(t, rec, http.StatusCreated)
	id := decode[contactOut](t, rec).ID.String()
	wantStatus(t, b.do(t, http.MethodPatch, "/api/contacts/"+id, body{"email": "ada@lovelace.org", "title": "CTO",
		"preferences": body{"notifications": body{"sms": true}}}, as(b.writer)), http.StatusOK)
	wantStatus(t, b.do(t, http.MethodDelete, "/api/contacts/"+id, nil, as(b.writer)), http.StatusNoContent)

	type entry struct {
		ID         int64                     `json:"id"`
		Actor      string                    `json:"actor"`
		Action     string                    `json:"action"`
		EntityType string                    `json:"entityType"`
		EntityID   string                    `json:"entityId"`
		Changes    map[string]map[string]any `json:"changes"`
	}
	rec = b.do(t, http.MethodGet, "/api/contacts/"+id+"/audit", nil, as(b.reader))
	wantStatus(t, rec, http.StatusOK)
	entries := decode[page[entry]](t, rec).Data
	if len(entries) != 4 {
		t.Fatalf("%d audit entries, want 4 (create, relationship, update, archive): %s", len(entries), rec.Body)
	}
	wantActor := "apikey:" + b.writerID.String() + ":writer key"
	for _, e := range entries {
		if e.Actor != wantActor {
			t.Errorf("entry %d actor %q, want %q", e.ID, e.Actor, wantActor)
		}
	}
	create, rel, update, archive := entries[0], entries[1], entries[2], entries[3]
	if create.Action != "create" || create.EntityType != "contact" || create.EntityID != id {
		t.Errorf("first entry %+v, want the contact's create", create)
	}
	if c := create.Changes["email"]; c["before"] != nil || c["after"] != "ada@example.com" {
		t.Errorf("create email change %v", c)
	}
	if rel.Action != "create" || rel.EntityType != "relationship" || rel.Changes["role"]["after"] != "buyer" {
		t.Errorf("second entry %+v, want the relationship's create", rel)
	}
	if update.Action != "update" {
		t.Errorf("third entry %+v, want the update", update)
	}
	if c := update.Changes["email"]; c["before"] != "ada@example.com" || c["after"] != "ada@lovelace.org" {
		t.Errorf("update email change %v", c)
	}
	if c := update.Changes["title"]; c["before"] != nil || c["after"] != "CTO" {
		t.Errorf("update title change %v", c)
	}
	if _, ok := update.Changes["firstName"]; ok {
		t.Errorf("unchanged firstName audited: %v", update.Changes)
	}
	if _, ok := update.Changes["preferences"]; !ok {
		t.Errorf("preferences change not audited: %v", update.Changes)
	}
	if archive.Action != "archive" || archive.Changes["status"]["after"] != "archived" {
		t.Errorf("fourth entry %+v, want the archive", archive)
	}

	// Paging: one entry at a time walks the same entries.
	var walked []int64
	cursor := ""
	for range 10 {
		rec := b.do(t, http.MethodGet, "/api/contacts/"+id+"/audit?limit=1"+cursor, nil)
		wantStatus(t, rec, http.StatusOK)
		p := decode[page[entry]](t, rec)
		for _, e := range p.Data {
			walked = append(walked, e.ID)
		}
		if p.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *p.NextCursor
	}
	if len(walked) != 4 || walked[0] != create.ID || walked[3] != archive.ID {
		t.Errorf("paged audit ids %v", walked)
	}
	wantFields(t, wantProblem(t, b.do(t, http.MethodGet, "/api/contacts/"+id+"/audit?cursor=x&limit=0", nil),
		http.StatusUnprocessableEntity), "cursor", "limit")
	wantProblem(t, b.do(t, http.MethodGet, "/api/contacts/"+uuid.NewString()+"/audit", nil), http.StatusNotFound)
}
