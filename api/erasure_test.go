package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/event"
	"github.com/contactd/contactd/importer"
	"github.com/contactd/contactd/sync/source"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// pgDump returns the pg_dump binary of the test server's version (PG_DUMP, or PostgreSQL 15's),
// skipping the test when there is none.
func pgDump(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("PG_DUMP"), "/usr/lib/postgresql/15/bin/pg_dump"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("pg_dump"); err == nil {
		return p
	}
	t.Skip("no pg_dump (set PG_DUMP)")
	return ""
}

// dump returns a full pg_dump of the test database, lower-cased.
func (b *testBundle) dump(t *testing.T, bin string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, "--no-owner", "--dbname", b.pool.Config().ConnString())
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("pg_dump: %v: %s", err, errOut.String())
	}
	return strings.ToLower(out.String())
}

func randomWord(t *testing.T, prefix string) string {
	t.Helper()
	buf := make([]byte, 5)
	if _, err := rand.Read(buf); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(buf)
}

// person is someone with values distinctive enough to search a database dump for.
type person struct {
	first, last, email, email2, phone, phoneDigits, street string
}

func newPerson(t *testing.T) person {
	t.Helper()
	first, last := randomWord(t, "Zorb"), randomWord(t, "Quill")
	digits := fmt.Sprintf("%03d", time.Now().UnixNano()%1000)
	return person{first: first, last: last, email: strings.ToLower(randomWord(t, "e")) + "@example.org",
		email2: strings.ToLower(randomWord(t, "f")) + "@example.net",
		phone:  "+44 20 7946 0" + digits, phoneDigits: "2079460" + digits, street: "12 " + randomWord(t, "Larkin") + " Road"}
}

// needles are the person's values as a dump would hold them (lower-cased).
func (p person) needles() map[string]string {
	return map[string]string{"first name": strings.ToLower(p.first), "last name": strings.ToLower(p.last),
		"email": p.email, "second email": p.email2, "phone": p.phoneDigits, "street": strings.ToLower(p.street)}
}

// TestErasureLeavesNoTraceInADump is the test: a person is put in every place contactd
// keeps data (an import, with an error row quoting them; a merge with a second record of
// theirs; communications; consent; a sync link's payload and a sync run's error; a review item;
// the change feed; a stored Idempotency-Key response; River jobs whose errors quote them),
// erased, and then a full pg_dump of the
// database holds none of their names, emails or phone; another person's data is all there.
func TestErasureLeavesNoTraceInADump(t *testing.T) {
	t.Parallel()
	bin := pgDump(t)
	b := setup(t)
	ctx := contact.WithActor(context.Background(), "test")
	p, other := newPerson(t), newPerson(t)

	// An import creates both; a third row fails, quoting the person's email and street.
	csv := "externalId,firstName,lastName,email,phone,externalIds,street,city\n" +
		fmt.Sprintf("p1,%s,%s,%s,%s,,%s,London\n", p.first, p.last, p.email, p.phone, p.street) +
		fmt.Sprintf("o1,%s,%s,%s,%s,,%s,London\n", other.first, other.last, other.email, other.phone, other.street) +
		fmt.Sprintf("x1,Bad,Row,bad@example.com,,%s,%s,\n", p.email, p.street)
	im, err := b.app.Imports.CreateImport(ctx, importer.NewImport{Source: "fair", Format: "csv", FileSHA256: "x", Mode: importer.ImportSkip, DefaultRegion: "GB"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done, err := (&importer.Runner{Store: b.app.Imports}).Run(ctx, im.ID, strings.NewReader(csv))
	if err != nil || done.Created != 2 || done.Failed != 1 {
		t.Fatalf("import: %+v, %v", done, err)
	}
	var id, otherID uuid.UUID
	if err := b.pool.QueryRow(ctx, `SELECT contact_id FROM external_refs WHERE external_id = 'p1'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if err := b.pool.QueryRow(ctx, `SELECT contact_id FROM external_refs WHERE external_id = 'o1'`).Scan(&otherID); err != nil {
		t.Fatal(err)
	}

	// A second record of theirs, created with an Idempotency-Key, merged into the first.
	rec := b.do(t, http.MethodPost, "/api/contacts", body{"firstName": p.first, "lastName": p.last, "email": p.email2},
		withHeader("Idempotency-Key", "second-record"))
	wantStatus(t, rec, http.StatusCreated)
	second := decode[contactOut](t, rec)
	rec = b.do(t, http.MethodPost, "/api/contacts/merge", body{"contactIds": []uuid.UUID{id, second.ID}, "survivorId": id})
	wantStatus(t, rec, http.StatusOK)
	mergeID := decode[struct {
		Merge struct {
			ID uuid.UUID `json:"id"`
		} `json:"merge"`
	}](t, rec).Merge.ID

	base := "/api/contacts/" + id.String()
	// A custom field holds their second email too.
	wantStatus(t, b.do(t, http.MethodPost, "/api/fields", body{"key": "home_email", "label": "Home email", "type": "email"}), http.StatusCreated)
	wantStatus(t, b.do(t, http.MethodPatch, base, body{"customFields": body{"home_email": p.email2}}), http.StatusOK)
	wantStatus(t, b.do(t, http.MethodPost, base+"/communications", body{"channel": "email", "direction": "inbound",
		"subject": "Hello from " + p.first + " " + p.last, "body": "reach me at " + p.phone}), http.StatusCreated)
	wantStatus(t, b.do(t, http.MethodPost, base+"/consents", body{"channel": "email", "purpose": "marketing", "status": "granted",
		"lawfulBasis": "consent", "source": "form", "explanation": "signed up as " + p.email,
		"proof": body{"ip": "203.0.113.7", "userAgent": "test", "noticeVersion": "v1"}}), http.StatusCreated)
	wantStatus(t, b.do(t, http.MethodPost, base+"/tags", body{"tags": []string{"vip"}}), http.StatusOK)

	// A sync source's link to them with its payload, and a run that reported them.
	srcID := uuid.Must(uuid.NewV7())
	if _, err := b.pool.Exec(ctx, `INSERT INTO sync_sources (id, type, name, config, direction, conflict_policy)
		VALUES ($1, 'http', 'cards', '{}', 'pull', 'newest-wins')`, srcID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.pool.Exec(ctx, `INSERT INTO sync_runs (id, source_id, status, errors) VALUES ($1, $2, 'succeeded', $3)`,
		uuid.Must(uuid.NewV7()), srcID, []source.RunError{{Ref: "card-9", Message: "conflict on " + p.email}}); err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		return source.PutLinkTx(ctx, tx, &source.Link{SourceID: srcID, RemoteID: "card-1", ContactID: id, ContentHash: []byte{1},
			Payload: source.State{Values: map[string]string{"firstName": p.first, "email": p.email, "phone": p.phone}}, Decision: []byte(`{"by":"email"}`)})
	})
	if err != nil {
		t.Fatal(err)
	}
	// A review item between them and the other person.
	a, c := id, otherID
	if a.String() > c.String() {
		a, c = c, a
	}
	if _, err := b.pool.Exec(ctx, `INSERT INTO duplicate_reviews (id, contact_a, contact_b, score, explanation, fingerprint_a, fingerprint_b)
		VALUES ($1, $2, $3, 0.5, $4, $5, $5)`, uuid.Must(uuid.NewV7()), a, c,
		fmt.Sprintf(`{"lastName": {"a": %q, "b": %q}}`, p.last, other.last), p.email); err != nil {
		t.Fatal(err)
	}

	// River jobs that failed over them: a discarded one whose error names their email, and one
	// to be retried whose errors name their phone and name and whose metadata holds the email.
	if _, err := b.pool.Exec(ctx, `INSERT INTO river_job (args, kind, state, attempt, finalized_at, errors, metadata) VALUES
		($1, 'normalize_contact', 'discarded', 1, now(), ARRAY[jsonb_build_object('at', now(), 'attempt', 1, 'error', 'cannot normalize ' || $2::text, 'trace', '')], '{}'),
		($1, 'dedupe_contact', 'retryable', 1, NULL, ARRAY[jsonb_build_object('at', now(), 'attempt', 1, 'error', $3::text, 'trace', '')],
			jsonb_build_object('note', $2::text))`,
		fmt.Sprintf(`{"contact_id": %q}`, id), p.email, "phone "+p.phone+" of "+p.first+" "+p.last+" is busy"); err != nil {
		t.Fatal(err)
	}

	// Every value is in the dump before: the search below can find them.
	before := b.dump(t, bin)
	for what, v := range p.needles() {
		if !strings.Contains(before, v) {
			t.Fatalf("before erasure the dump lacks the %s %q: the fixture is wrong", what, v)
		}
	}

	wantStatus(t, b.do(t, http.MethodDelete, base+"?erase=true", nil), http.StatusNoContent)

	after := b.dump(t, bin)
	for what, v := range p.needles() {
		if i := strings.Index(after, v); i >= 0 {
			t.Errorf("after erasure the dump holds the %s %q: …%s…", what, v, after[max(0, i-200):min(len(after), i+100)])
		}
	}
	for what, v := range other.needles() {
		if what == "second email" {
			continue
		}
		if !strings.Contains(after, v) {
			t.Errorf("the erasure took the other person's %s %q too", what, v)
		}
	}

	// What stays: tombstones, a suppression entry each for the email and phones, the facts.
	wantProblem(t, b.do(t, http.MethodGet, base, nil), http.StatusGone)
	wantProblem(t, b.do(t, http.MethodGet, "/api/contacts/"+second.ID.String(), nil), http.StatusGone)
	wantProblem(t, b.do(t, http.MethodGet, base+"/export", nil), http.StatusGone)
	wantProblem(t, b.do(t, http.MethodDelete, base+"?erase=true", nil), http.StatusGone)
	wantProblem(t, b.do(t, http.MethodPost, "/api/merges/"+mergeID.String()+"/undo", nil), http.StatusGone)
	for _, sub := range []string{"/audit", "/consents", "/communications", "/timeline", "/relationships"} {
		wantProblem(t, b.do(t, http.MethodGet, base+sub, nil), http.StatusGone)
	}
	if n := b.count(t, "contacts", "status = 'erased' AND erased_at IS NOT NULL AND erased_by LIKE 'apikey:%' AND id = ANY($1)", []uuid.UUID{id, second.ID}); n != 2 {
		t.Errorf("%d tombstones, want 2", n)
	}
	if n := b.count(t, "suppressions", "reason = 'erased'"); n != 3 {
		t.Errorf("%d suppression entries, want 3 (two emails, one phone)", n)
	}
	if n := b.count(t, "sync_links", "contact_id = $1", id); n != 0 {
		t.Errorf("the sync link is kept")
	}
	if _, err := event.Sequence(ctx, b.app.DB); err != nil {
		t.Fatal(err)
	}
	evs, _, err := b.app.Feed.Changes(ctx, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	erased := 0
	for _, e := range evs {
		if e.Type == event.ContactErased {
			erased++
			if want := fmt.Sprintf(`{"contactId": %q}`, *e.ContactID); string(e.Data) != want {
				t.Errorf("a contact.erased event holds %s, want %s", e.Data, want)
			}
		}
	}
	if erased != 2 {
		t.Errorf("%d contact.erased events, want 2", erased)
	}
	if n := b.count(t, "audit_log", "contact_id = $1 AND action = 'create' OR action = 'import' AND contact_id = $1", id); n != 1 {
		t.Errorf("the fact of the import is not kept in the audit trail (%d entries)", n)
	}
	if n := b.count(t, "import_errors", "import_id = $1 AND message = $2", im.ID, contact.ErasedMarker); n != 1 {
		t.Errorf("the error row quoting them is not kept scrubbed")
	}
	// The failed jobs stay, their failures told without the person.
	if n := b.count(t, "river_job", "kind IN ('normalize_contact', 'dedupe_contact') AND errors[1] ->> 'error' LIKE '%' || $1 || '%'",
		contact.ErasedMarker); n != 2 {
		t.Errorf("%d failed jobs kept with their errors scrubbed, want 2", n)
	}
	// A replay of the create answers that the person was erased.
	rec = b.do(t, http.MethodPost, "/api/contacts", body{"firstName": p.first, "lastName": p.last, "email": p.email2},
		withHeader("Idempotency-Key", "second-record"))
	wantProblem(t, rec, http.StatusGone)
}

// TestSuppressionList: an erased person or one who withdrew everything is not re-created by a
// create (409 .../suppressed unless it carries a new grant), a batch, or an import (an error
// row "suppressed"), each checked once per batch.
func TestSuppressionList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := contact.WithActor(context.Background(), "test")
	erased := b.createContact(t, body{"firstName": "Erin", "email": "erin@example.com", "phone": "+1 415 555 0101"})
	wantStatus(t, b.do(t, http.MethodDelete, "/api/contacts/"+erased.ID.String()+"?erase=true", nil), http.StatusNoContent)
	quitter := b.createContact(t, body{"firstName": "Quinn", "email": "quinn@example.com"})
	wantStatus(t, b.do(t, http.MethodPost, "/api/contacts/"+quitter.ID.String()+"/opt-out", body{}), http.StatusOK)
	// An opt-out of one channel puts no one on the list.
	partial := b.createContact(t, body{"firstName": "Pat", "email": "pat@example.com"})
	wantStatus(t, b.do(t, http.MethodPost, "/api/contacts/"+partial.ID.String()+"/opt-out", body{"channel": "sms"}), http.StatusOK)

	grant := body{"channel": "email", "purpose": "marketing", "status": "granted", "lawfulBasis": "consent", "source": "form"}
	tests := []struct {
		name   string
		in     body
		status int
	}{
		{"erased email, another spelling", body{"firstName": "E", "email": "Erin+news@Example.com"}, http.StatusConflict},
		{"erased phone, another format", body{"firstName": "E", "phone": "(415) 555-0101"}, http.StatusConflict},
		{"withdrawn email", body{"firstName": "Q", "email": "quinn@example.com", "allowDuplicate": nil}, http.StatusConflict},
		{"partly withdrawn", body{"firstName": "P2", "email": "pat2@example.com"}, http.StatusCreated},
		{"a withdrawal is no new consent", body{"firstName": "E", "email": "erin@example.com",
			"consent": body{"channel": "email", "purpose": "marketing", "status": "withdrawn", "lawfulBasis": "consent"}}, http.StatusUnprocessableEntity},
		{"a bad consent names its fields", body{"firstName": "E", "email": "erin@example.com",
			"consent": body{"channel": "fax", "purpose": "marketing", "status": "granted", "lawfulBasis": "consent"}}, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		delete(tt.in, "allowDuplicate")
		rec := b.do(t, http.MethodPost, "/api/contacts?allowDuplicate=true", tt.in)
		if tt.status >= 400 {
			pr := wantProblem(t, rec, tt.status)
			if tt.status == http.StatusConflict && pr.Type != "https://contactd.dev/problems/suppressed" {
				t.Errorf("%s: type %q", tt.name, pr.Type)
			}
			if tt.status == http.StatusUnprocessableEntity && !strings.HasPrefix(strings.Join(pr.fields(), ","), "consent.") {
				t.Errorf("%s: fields %v", tt.name, pr.fields())
			}
			continue
		}
		wantStatus(t, rec, tt.status)
	}

	// A batch refuses the suppressed item alone.
	rec := b.do(t, http.MethodPost, "/api/contacts/batch", body{"mode": "create", "matchOn": "email", "contacts": []body{
		{"firstName": "Erin", "email": "erin@example.com"}, {"firstName": "New", "email": "new@example.com"}}})
	wantStatus(t, rec, http.StatusOK)
	res := decode[struct {
		Results []struct {
			Status string `json:"status"`
			Error  *struct {
				Type string `json:"type"`
			} `json:"error"`
		} `json:"results"`
	}](t, rec)
	if res.Results[0].Status != "error" || res.Results[0].Error == nil || res.Results[0].Error.Type != "https://contactd.dev/problems/suppressed" || res.Results[1].Status != "created" {
		t.Errorf("batch results %+v", res.Results)
	}

	// An import reports their rows as suppressed, with the line.
	csv := "email,firstName\nerin@example.com,Erin\nfresh@example.com,Fresh\n+quinn@example.com,Q\n"
	csv = strings.Replace(csv, "+quinn", "QUINN", 1)
	im, err := b.app.Imports.CreateImport(ctx, importer.NewImport{Source: "fair", Format: "csv", FileSHA256: "s", Mode: importer.ImportSkip, DefaultRegion: "US"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done, err := (&importer.Runner{Store: b.app.Imports}).Run(ctx, im.ID, strings.NewReader(csv))
	if err != nil || done.Created != 1 || done.Failed != 2 {
		t.Fatalf("import %+v, %v", done, err)
	}
	errs, _, err := b.app.Imports.ImportErrors(ctx, im.ID, -1, 10)
	if err != nil || len(errs) != 2 || errs[0].Line != 2 || errs[0].Message != "suppressed" || errs[1].Line != 4 {
		t.Errorf("import errors %+v, %v", errs, err)
	}

	// A create with a new grant brings the person back and takes them off the list.
	rec = b.do(t, http.MethodPost, "/api/contacts", body{"firstName": "Erin", "email": "erin@example.com", "consent": grant})
	wantStatus(t, rec, http.StatusCreated)
	back := decode[contactOut](t, rec)
	if n := b.count(t, "consent_events", "contact_id = $1 AND status = 'granted'", back.ID); n != 1 {
		t.Errorf("%d grants recorded with the create", n)
	}
	wantStatus(t, b.do(t, http.MethodPost, "/api/contacts?allowDuplicate=true", body{"firstName": "Erin", "email": "erin@example.com"}), http.StatusCreated)
	// A grant to the one who withdrew lifts their entry.
	wantStatus(t, b.do(t, http.MethodPost, "/api/contacts/"+quitter.ID.String()+"/consents", grant), http.StatusCreated)
	wantStatus(t, b.do(t, http.MethodPost, "/api/contacts?allowDuplicate=true", body{"firstName": "Q", "email": "quinn@example.com"}), http.StatusCreated)
}

// TestPersonExport: the export of a merged person holds the survivor, the merged record and
// what every concern keeps about them; a merged id exports the same person.
func TestPersonExport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.createContact(t, body{"firstName": "Ada", "email": "ada@example.com", "tags": []string{"vip"}})
	c := b.createContact(t, body{"firstName": "Ada", "lastName": "Lovelace", "email": "ada.l@example.com"})
	wantStatus(t, b.do(t, http.MethodPost, "/api/contacts/merge", body{"contactIds": []uuid.UUID{a.ID, c.ID}, "survivorId": a.ID}), http.StatusOK)
	base := "/api/contacts/" + a.ID.String()
	wantStatus(t, b.do(t, http.MethodPost, base+"/communications", body{"channel": "phone", "direction": "outbound", "subject": "call"}), http.StatusCreated)
	wantStatus(t, b.do(t, http.MethodPost, base+"/opt-out", body{"channel": "sms"}), http.StatusOK)

	for _, id := range []uuid.UUID{a.ID, c.ID} {
		rec := b.do(t, http.MethodGet, "/api/contacts/"+id.String()+"/export", nil, as(b.reader))
		wantStatus(t, rec, http.StatusOK)
		doc := decode[struct {
			Contact        contactOut   `json:"contact"`
			Records        []contactOut `json:"mergedRecords"`
			Alternates     []any        `json:"alternates"`
			Communications []any        `json:"communications"`
			Consent        struct {
				History []any `json:"history"`
			} `json:"consent"`
			Audit  []any `json:"audit"`
			Merges []any `json:"merges"`
		}](t, rec)
		if doc.Contact.ID != a.ID || len(doc.Records) != 1 || doc.Records[0].ID != c.ID || len(doc.Alternates) != 1 ||
			len(doc.Communications) != 1 || len(doc.Consent.History) != 2 || len(doc.Merges) != 1 || len(doc.Audit) < 3 {
			t.Errorf("export of %s: %s", id, rec.Body)
		}
	}
	wantProblem(t, b.do(t, http.MethodGet, "/api/contacts/"+uuid.NewString()+"/export", nil), http.StatusNotFound)
}
