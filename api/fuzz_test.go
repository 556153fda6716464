package api_test

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// nastyBodies are seeds every body-taking endpoint gets: malformed JSON, wrong shapes, wrong
// types, odd text. Endpoint-specific seeds add valid bodies. $USER, $ACCOUNT and $CONTACT are
// replaced with the ids of a real user, account and contact.
var nastyBodies = []string{
	``,
	`{`,
	`}`,
	`{}`,
	`[]`,
	`null`,
	`true`,
	`0`,
	`"x"`,
	`{"firstName": }`,
	`{"firstName": "a"} trailing`,
	`{"firstName": "a", "firstName": 1}`,
	`{"firstName": "\u0000"}`,
	`{"firstName": "\ud800"}`,
	"{\"firstName\": \"\xff\xfe\"}",
	`{"name": "\u202e\u200b", "email": "a@b.c"}`,
	`{"email": "` + strings.Repeat("a", 64) + `@` + strings.Repeat("b", 300) + `.com"}`,
	`{"email": "a@xn--"}`,
	`{"email": "a@[127.0.0.1]"}`,
	`{"email": "\"quoted local\"@example.com"}`,
	`{"email": "a@b@c"}`,
	`{"email": "a@bücher.example"}`,
	`{"phone": "+999 999 999 999 999 999 999"}`,
	`{"phone": "١٢٣٤٥٦٧"}`,
	`{"phone": "555-0100 ext. 99999999999999999999"}`,
	`{"firstName": 1e999}`,
	`{"firstName": -0}`,
	`{"firstName": {"$gt": ""}}`,
	`{"preferences": {"communicationMethods": [null, 1, "email", "EMAIL "]}}`,
	`{"preferences": {"notifications": {"email": null, "sms": 1}}}`,
	`{"preferences": {"notifications": []}}`,
	`{"preferences": "all"}`,
	`{"relationships": [null, {}, [], "x", {"type": "user", "entityId": "$USER"}]}`,
	`{"relationships": [{"type": "user", "entityId": "00000000-0000-0000-0000-000000000000"}]}`,
	`{"relationships": [{"type": "account", "entityId": "{$ACCOUNT}"}]}`,
	`{"relationships": [{"type": "account", "entityId": "urn:uuid:$ACCOUNT"}]}`,
	`{"relationships": [{"type": "USER", "entityType": "account", "entityId": "$ACCOUNT"}]}`,
	`{"entityType": "account", "entityId": "$ACCOUNT", "isPrimary": null, "role": null}`,
	`{"entityType": "account", "entityId": "$USER"}`,
	`{"entityType": "user", "entityId": "$CONTACT"}`,
	`{"entityType": " user ", "entityId": " $USER ", "role": "  "}`,
	`{"name": null, "email": null, "domain": null}`,
	`{"name": "a", "domain": "xn--zz"}`,
	`{"name": "a", "domain": "` + strings.Repeat("a.", 130) + `com"}`,
	`{"name": "a", "domain": "..."}`,
	`{"name": "a", "domain": "ex ample.com"}`,
	`{"a":` + strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001) + `}`,
	`{"firstName": "` + strings.Repeat("é", 101) + `"}`,
}

// fuzzBody fuzzes the body of one endpoint against one database. The property: never a 5xx
// and never a panic; the answer is a 2xx JSON document or a 4xx problem+json document.
// serve checks as well that the response matches openapi.yaml.
func fuzzBody(f *testing.F, method, path string, seeds ...string) {
	b := setup(f)
	user, account := b.createUser(f, "Fuzz"), b.createAccount(f, "Fuzz")
	contactID := b.createContact(f, body{"firstName": "Fuzz", "email": "fuzz@example.com"}).ID
	ids := strings.NewReplacer("$USER", user.String(), "$ACCOUNT", account.String(), "$CONTACT", contactID.String())
	path = ids.Replace(path)
	for _, s := range append(seeds, nastyBodies...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = []byte(ids.Replace(string(data)))
		rec := serve(t, b.handler, method, path, data, as(b.admin))
		ct, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type"))
		switch {
		case rec.Code >= 200 && rec.Code < 300:
			if ct != "application/json" || !json.Valid(rec.Body.Bytes()) {
				t.Errorf("%d with Content-Type %q and body %q", rec.Code, ct, rec.Body)
			}
		case rec.Code >= 400 && rec.Code < 500:
			var p problem
			if ct != "application/problem+json" || json.Unmarshal(rec.Body.Bytes(), &p) != nil || p.Status != rec.Code || p.Type == "" || p.Title == "" {
				t.Errorf("%d is not a problem document: Content-Type %q, body %q", rec.Code, ct, rec.Body)
			}
		default:
			t.Errorf("status %d for body %q: %s", rec.Code, data, rec.Body)
		}
	})
}

func FuzzCreateContact(f *testing.F) {
	fuzzBody(f, http.MethodPost, "/api/contacts",
		`{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0958", "title": "CTO", "company": "Acme"}`,
		`{"email": "ADA@EXAMPLE.COM"}`,
		`{"firstName": "Ada", "preferences": {"communicationMethods": ["email", "sms"], "notifications": {"email": true, "sms": false}}}`,
		`{"firstName": "Ada", "relationships": [{"type": "user", "entityId": "$USER", "role": "owner"}, {"entityType": "account", "entityId": "$ACCOUNT", "isPrimary": true}]}`,
		`{"firstName": "Ada", "email": "nope", "phone": "1", "relationships": [{"type": "user", "entityId": "x"}]}`,
	)
}

func FuzzUpdateContact(f *testing.F) {
	fuzzBody(f, http.MethodPut, "/api/contacts/$CONTACT",
		`{"title": "CEO"}`,
		`{"title": null, "company": ""}`,
		`{"email": "new@example.com", "phone": "555-0100"}`,
		`{"firstName": null, "email": null, "phone": null}`,
		`{"preferences": {"notifications": {"sms": true}}}`,
		`{"preferences": null}`,
		`{"preferences": {"communicationMethods": null, "notifications": null}}`,
	)
}

func FuzzAddRelationship(f *testing.F) {
	fuzzBody(f, http.MethodPost, "/api/contacts/$CONTACT/relationships",
		`{"entityType": "user", "entityId": "$USER", "role": "owner"}`,
		`{"type": "user", "entityId": "$USER", "role": "watcher"}`,
		`{"entityType": "account", "entityId": "$ACCOUNT", "role": "buyer", "isPrimary": true}`,
		`{"entityType": "user", "entityId": "$USER", "isPrimary": true}`,
	)
}

func FuzzCreateUser(f *testing.F) {
	fuzzBody(f, http.MethodPost, "/api/users",
		`{"name": "Grace", "email": "grace@example.com"}`,
		`{"name": "Grace"}`,
		`{"name": "", "email": "x"}`,
	)
}

func FuzzCreateAccount(f *testing.F) {
	fuzzBody(f, http.MethodPost, "/api/accounts",
		`{"name": "Acme", "domain": "acme.example"}`,
		`{"name": "Bücher", "domain": "Bücher.example."}`,
		`{"name": "Acme"}`,
	)
}

// FuzzListContactsQuery fuzzes the query string of the contact list: never a 5xx; a 400
// problem exactly when the query string cannot be decoded, else a 200 or a 422 problem.
func FuzzListContactsQuery(f *testing.F) {
	b := setup(f)
	account := b.createAccount(f, "Fuzz")
	b.createContact(f, body{"firstName": "Fuzz", "company": "Acme", "relationships": []body{{"type": "account", "entityId": account, "role": "buyer"}}})
	for _, q := range []string{
		"", "limit=1", "limit=500", "limit=0", "limit=abc", "company=acme", "role=BUYER", "status=all",
		"account=" + account.String(), "account=x", "cursor=AAAAAAAAAAAAAAAAAAAAAA", "cursor=%%%", "status=archived&limit=2",
		"company=a&company=b", "role=" + strings.Repeat("r", 5000),
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest(http.MethodGet, "/api/contacts", nil)
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer "+b.reader)
		rec := httptest.NewRecorder()
		b.handler.ServeHTTP(rec, req)
		if _, err := url.ParseQuery(query); err != nil {
			if rec.Code != http.StatusBadRequest {
				t.Errorf("GET /api/contacts?%s (malformed: %v) answered %d, want 400: %s", query, err, rec.Code, rec.Body)
			}
		} else if rec.Code != http.StatusOK && rec.Code != http.StatusUnprocessableEntity {
			t.Errorf("GET /api/contacts?%s answered %d: %s", query, rec.Code, rec.Body)
		}
		if err := validateAgainstSpec(req, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			t.Errorf("response does not match openapi.yaml: %v", err)
		}
	})
}
