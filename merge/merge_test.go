package merge_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
)

// mergeFixture creates contacts in order (so the first is the oldest) and returns their ids.
func mergeFixture(t *testing.T, b bundle, in ...contact.NewContact) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, len(in))
	for i, nc := range in {
		nc.AllowDuplicate = true
		c, err := b.App.Contacts.CreateContact(b.Ctx, nc)
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		ids[i] = c.ID
	}
	return ids
}

// touch sets a contact's updated_at, so that tests control which value is the most recent.
func touch(t *testing.T, b bundle, id uuid.UUID, ago time.Duration) {
	t.Helper()
	if _, err := b.Pool.Exec(b.Ctx, `UPDATE contacts SET updated_at = now() - $2::interval WHERE id = $1`, id, ago.String()); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, b bundle, id uuid.UUID) *contact.Contact {
	t.Helper()
	c, err := b.App.Contacts.GetContact(b.Ctx, id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return c
}

func val(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func ptrTo[T any](v T) *T { return &v }

func TestMergeSurvivorship(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		survivor    int // index of the named survivor; -1 for the default
		fieldValues map[string]int
		want        map[string]string
		wantSurv    int
	}{
		{"oldest survives, keeps its values, fills from the most recent", -1, nil,
			map[string]string{"firstName": "Ann", "lastName": "Recent", "title": "CEO", "company": "Old Co", "email": "ann@old.example"}, 0},
		{"named survivor", 2, nil,
			map[string]string{"firstName": "Anne", "lastName": "Recent", "title": "CEO", "company": "Mid Co", "email": "anne@recent.example"}, 2},
		{"field values win", -1, map[string]int{"firstName": 2, "company": 1, "email": 2},
			map[string]string{"firstName": "Anne", "lastName": "Recent", "title": "CEO", "company": "Mid Co", "email": "anne@recent.example"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ids := mergeFixture(t, b,
				contact.NewContact{FirstName: "Ann", Email: "ann@old.example", Company: "Old Co"},
				contact.NewContact{FirstName: "Annie", LastName: "Middle", Company: "Mid Co", Title: "CTO"},
				contact.NewContact{FirstName: "Anne", LastName: "Recent", Email: "anne@recent.example", Title: "CEO"},
			)
			touch(t, b, ids[0], 3*time.Hour)
			touch(t, b, ids[1], 2*time.Hour)
			touch(t, b, ids[2], time.Hour)
			req := merge.Request{ContactIDs: ids}
			if tt.survivor >= 0 {
				req.SurvivorID = &ids[tt.survivor]
			}
			if tt.fieldValues != nil {
				req.FieldValues = map[string]uuid.UUID{}
				for f, i := range tt.fieldValues {
					req.FieldValues[f] = ids[i]
				}
			}
			m, got, err := b.App.Merges.MergeContacts(b.Ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if m.SurvivorID != ids[tt.wantSurv] || got.ID != ids[tt.wantSurv] {
				t.Fatalf("survivor %s, want %s", m.SurvivorID, ids[tt.wantSurv])
			}
			if len(m.MergedIDs) != 2 || m.Actor != "test" {
				t.Errorf("merge %+v", m)
			}
			for f, want := range tt.want {
				var v *string
				switch f {
				case "firstName":
					v = got.FirstName
				case "lastName":
					v = got.LastName
				case "title":
					v = got.Title
				case "company":
					v = got.Company
				case "email":
					v = got.Email
				}
				if val(v) != want {
					t.Errorf("%s = %q, want %q", f, val(v), want)
				}
			}
			if got.Email != nil && val(got.Normalized.Email) != *got.Email {
				t.Errorf("normalized email %q does not follow email %q", val(got.Normalized.Email), *got.Email)
			}
			// Every email of the merge the survivor does not carry itself is an alternate.
			for _, e := range []string{"ann@old.example", "anne@recent.example"} {
				want := 1
				if e == *got.Email {
					want = 0
				}
				if n := b.Count(t, `SELECT count(*) FROM contact_alternates WHERE contact_id = $1 AND kind = 'email'
					AND value = $2 AND normalized = $2 AND merge_id = $3`, got.ID, e, m.ID); n != want {
					t.Errorf("alternate %s: %d rows, want %d", e, n, want)
				}
			}
			for _, id := range m.MergedIDs {
				c := get(t, b, id)
				if c.Status != contact.StatusMerged || c.MergedInto == nil || *c.MergedInto != got.ID {
					t.Errorf("merged contact %s: status %s, mergedInto %v", id, c.Status, c.MergedInto)
				}
			}
		})
	}
}

func TestMergeConsentNeverWidens(t *testing.T) {
	t.Parallel()
	f, tr := false, true
	tests := []struct {
		name        string
		prefs       []*contact.PreferencesPatch
		wantEmail   *bool
		wantSMS     *bool
		wantMethods []string
	}{
		{"an opt-out anywhere stays",
			[]*contact.PreferencesPatch{{NotifyEmail: contact.Some(true), NotifySMS: contact.Some(true)}, {NotifyEmail: contact.Some(false)}},
			&f, &tr, nil},
		{"unset takes the other's value",
			[]*contact.PreferencesPatch{nil, {NotifySMS: contact.Some(true), CommunicationMethods: contact.Some([]string{"email", "phone"})}},
			nil, &tr, []string{"email", "phone"}},
		{"methods are those every chooser allows",
			[]*contact.PreferencesPatch{
				{CommunicationMethods: contact.Some([]string{"phone", "email", "sms"})},
				{CommunicationMethods: contact.Some([]string{"email", "phone"})},
				{},
			}, nil, nil, []string{"phone", "email"}},
		{"disjoint methods leave none",
			[]*contact.PreferencesPatch{{CommunicationMethods: contact.Some([]string{"phone"})}, {CommunicationMethods: contact.Some([]string{"email"})}},
			nil, nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			var in []contact.NewContact
			for i, p := range tt.prefs {
				in = append(in, contact.NewContact{FirstName: fmt.Sprint("P", i), Preferences: p})
			}
			ids := mergeFixture(t, b, in...)
			_, got, err := b.App.Merges.MergeContacts(b.Ctx, merge.Request{ContactIDs: ids})
			if err != nil {
				t.Fatal(err)
			}
			n := got.Preferences.Notifications
			bv := func(p *bool) string {
				if p == nil {
					return "unset"
				}
				return fmt.Sprint(*p)
			}
			if bv(n.Email) != bv(tt.wantEmail) || bv(n.SMS) != bv(tt.wantSMS) {
				t.Errorf("notifications email=%s sms=%s, want %s %s", bv(n.Email), bv(n.SMS), bv(tt.wantEmail), bv(tt.wantSMS))
			}
			if !slices.Equal(got.Preferences.CommunicationMethods, tt.wantMethods) {
				t.Errorf("methods %q, want %q", got.Preferences.CommunicationMethods, tt.wantMethods)
			}
		})
	}
}

// relFixture is three contacts with overlapping relationships, an external reference each and
// blocking keys.
type relFixture struct {
	ids          []uuid.UUID
	acctX, acctY uuid.UUID
	user         uuid.UUID
}

func newRelFixture(t *testing.T, b bundle) relFixture {
	t.Helper()
	var f relFixture
	acct := func(name string) uuid.UUID {
		a, err := b.App.Relations.CreateAccount(b.Ctx, name, "")
		if err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	u, err := b.App.Relations.CreateUser(b.Ctx, "Owner", "")
	if err != nil {
		t.Fatal(err)
	}
	f.acctX, f.acctY, f.user = acct("X"), acct("Y"), u.ID
	rel := func(typ string, id uuid.UUID, role string, primary bool) contact.NewRelationship {
		return contact.NewRelationship{EntityType: typ, EntityID: id.String(), Role: role, IsPrimary: primary}
	}
	f.ids = mergeFixture(t, b,
		contact.NewContact{FirstName: "A", Email: "a@example.com", Phone: "+14155550100",
			Relationships: []contact.NewRelationship{rel("account", f.acctX, "", false), rel("user", f.user, "owner", false)}},
		contact.NewContact{FirstName: "B", Email: "b@example.com", Phone: "+14155550111",
			Relationships: []contact.NewRelationship{rel("account", f.acctX, "cto", true), rel("account", f.acctY, "buyer", false), rel("user", f.user, "Owner", false)}},
		contact.NewContact{FirstName: "C", Email: "c@example.com",
			Relationships: []contact.NewRelationship{rel("account", f.acctY, "", true), rel("user", f.user, "assistant", false)}},
	)
	for i, id := range f.ids {
		if _, err := b.Pool.Exec(b.Ctx, `INSERT INTO external_refs (source, external_id, contact_id) VALUES ('crm', $1, $2)`, fmt.Sprint("row", i), id); err != nil {
			t.Fatal(err)
		}
	}
	// B already carries an alternate from an earlier life.
	if _, err := b.Pool.Exec(b.Ctx, `INSERT INTO contact_alternates (contact_id, kind, value, normalized) VALUES ($1, 'email', 'old@b.example', 'old@b.example')`, f.ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := b.App.Engine.Rekey(b.Ctx, f.ids); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestMergeMovesRelationshipsReferencesAndHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := newRelFixture(t, b)
	auditB := b.Count(t, `SELECT count(*) FROM audit_log WHERE contact_id = $1`, f.ids[1])
	m, got, err := b.App.Merges.MergeContacts(b.Ctx, merge.Request{ContactIDs: f.ids})
	if err != nil {
		t.Fatal(err)
	}
	a := f.ids[0]
	if got.ID != a {
		t.Fatalf("survivor %s, want the oldest %s", got.ID, a)
	}
	type rel struct {
		typ, role string
		primary   bool
	}
	rels := map[uuid.UUID][]rel{}
	for _, r := range got.Relationships {
		rels[r.EntityID] = append(rels[r.EntityID], rel{string(r.EntityType), r.Role, r.IsPrimary})
	}
	if x := rels[f.acctX]; len(x) != 1 || !x[0].primary || x[0].role != "cto" {
		t.Errorf("account X: %+v, want one primary relationship with role cto", x)
	}
	if y := rels[f.acctY]; len(y) != 1 || !y[0].primary || y[0].role != "buyer" {
		t.Errorf("account Y: %+v, want one primary relationship with role buyer", y)
	}
	if u := rels[f.user]; len(u) != 2 {
		t.Errorf("user: %+v, want owner and assistant", u)
	}
	checks := []struct {
		name, sql string
		want      int
	}{
		{"one primary per account", `SELECT count(*) FROM (SELECT account_id FROM contact_accounts WHERE is_primary AND removed_at IS NULL GROUP BY account_id HAVING count(*) > 1) x`, 0},
		{"no current relationship on merged contacts", `SELECT count(*) FROM (SELECT contact_id FROM contact_accounts WHERE removed_at IS NULL UNION ALL SELECT contact_id FROM contact_users WHERE removed_at IS NULL) r JOIN contacts c ON c.id = r.contact_id WHERE c.status = 'merged'`, 0},
		{"references moved", `SELECT count(*) FROM external_refs WHERE contact_id = '` + a.String() + `'`, 3},
		{"keys of merged contacts gone", `SELECT count(*) FROM contact_keys WHERE contact_id <> '` + a.String() + `'`, 0},
		{"alternates", `SELECT count(*) FROM contact_alternates WHERE contact_id = '` + a.String() + `'`, 4},
		{"old alternate kept", `SELECT count(*) FROM contact_alternates WHERE contact_id = '` + a.String() + `' AND value = 'old@b.example' AND from_contact_id = '` + f.ids[1].String() + `'`, 1},
		{"phones with their E.164 form", `SELECT count(*) FROM contact_alternates WHERE kind = 'phone' AND normalized = '+14155550111'`, 1},
		{"merge audited per contact", `SELECT count(*) FROM audit_log WHERE action = 'merge' AND changes->'mergeId'->>'after' = '` + m.ID.String() + `'`, 3},
	}
	for _, c := range checks {
		if n := b.Count(t, c.sql); n != c.want {
			t.Errorf("%s: %d, want %d", c.name, n, c.want)
		}
	}
	// History stays where it was written and the survivor's trail takes it in.
	if n := b.Count(t, `SELECT count(*) FROM audit_log WHERE contact_id = $1`, f.ids[1]); n != auditB+1 {
		t.Errorf("merged contact B has %d audit entries, want its %d and the merge's", n, auditB)
	}
	trail, err := b.App.Contacts.AuditTrail(b.Ctx, a, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range trail {
		seen[e.EntityID.String()+" "+e.Action] = true
	}
	for _, id := range f.ids {
		if !seen[id.String()+" create"] || !seen[id.String()+" merge"] {
			t.Errorf("survivor's trail lacks the create or merge of %s: %v", id, seen)
		}
	}
	trailB, err := b.App.Contacts.AuditTrail(b.Ctx, f.ids[1], 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(trailB) != auditB+1 {
		t.Errorf("merged contact B's trail has %d entries, want %d", len(trailB), auditB+1)
	}
}

func TestMergedContactsResolveAndLeaveLists(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := mergeFixture(t, b, contact.NewContact{FirstName: "A"}, contact.NewContact{FirstName: "B"},
		contact.NewContact{FirstName: "C"}, contact.NewContact{FirstName: "D"})
	// A into B, then B into C: A's chain ends at C.
	if _, _, err := b.App.Merges.MergeContacts(b.Ctx, merge.Request{ContactIDs: ids[:2], SurvivorID: &ids[1]}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.App.Merges.MergeContacts(b.Ctx, merge.Request{ContactIDs: ids[1:3], SurvivorID: &ids[2]}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids[:2] {
		c := get(t, b, id)
		if c.Status != contact.StatusMerged || c.MergedInto == nil || *c.MergedInto != ids[2] {
			t.Errorf("%s: status %s mergedInto %v, want merged into %s", id, c.Status, c.MergedInto, ids[2])
		}
	}
	if c := get(t, b, ids[2]); c.MergedInto != nil {
		t.Errorf("survivor has mergedInto %v", c.MergedInto)
	}
	page, err := b.App.Contacts.ListContacts(b.Ctx, contact.Filter{}, contact.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	list := page.Contacts
	if len(list) != 2 || list[0].ID != ids[2] || list[1].ID != ids[3] {
		t.Errorf("list has %d contacts, want C and D", len(list))
	}
	for _, u := range []func() error{
		func() error {
			_, err := b.App.Contacts.UpdateContact(b.Ctx, ids[0], contact.Update{Title: contact.Some("x")})
			return err
		},
		func() error { return b.App.Contacts.ArchiveContact(b.Ctx, ids[1]) },
	} {
		apptest.RequireKind(t, u(), db.KindConflict)
	}
}

func TestMergeValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := mergeFixture(t, b, contact.NewContact{FirstName: "A"}, contact.NewContact{FirstName: "B"},
		contact.NewContact{FirstName: "C"}, contact.NewContact{FirstName: "D"}, contact.NewContact{FirstName: "E"})
	if err := b.App.Contacts.ArchiveContact(b.Ctx, ids[3]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.App.Merges.MergeContacts(b.Ctx, merge.Request{ContactIDs: []uuid.UUID{ids[4], ids[2]}, SurvivorID: &ids[2]}); err != nil {
		t.Fatal(err)
	}
	unknown := uuid.Must(uuid.NewV7())
	tests := []struct {
		name string
		req  merge.Request
		want []string
	}{
		{"one contact", merge.Request{ContactIDs: []uuid.UUID{ids[0]}}, []string{"contactIds"}},
		{"the same contact twice", merge.Request{ContactIDs: []uuid.UUID{ids[0], ids[0]}}, []string{"contactIds"}},
		{"unknown contact", merge.Request{ContactIDs: []uuid.UUID{ids[0], unknown}}, []string{"contactIds[1]"}},
		{"archived and merged contacts", merge.Request{ContactIDs: []uuid.UUID{ids[3], ids[0], ids[4]}}, []string{"contactIds[0]", "contactIds[2]"}},
		{"unknown survivor", merge.Request{ContactIDs: []uuid.UUID{ids[0], ids[1]}, SurvivorID: &unknown}, []string{"survivorId"}},
		{"field values", merge.Request{ContactIDs: []uuid.UUID{ids[0], ids[1]},
			FieldValues: map[string]uuid.UUID{"email": ids[2], "nickname": ids[0]}}, []string{"fieldValues.email", "fieldValues.nickname"}},
		{"unknown model", merge.Request{ContactIDs: []uuid.UUID{ids[0], ids[1]}, ModelVersion: ptrTo(99)}, []string{"modelVersion"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := b.App.Merges.MergeContacts(b.Ctx, tt.req)
			de := apptest.RequireKind(t, err, db.KindInvalid)
			var got []string
			for _, f := range de.Fields {
				got = append(got, f.Field)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("fields %q, want %q", got, tt.want)
			}
		})
	}
	if n := b.Count(t, `SELECT count(*) FROM merges`); n != 1 {
		t.Errorf("%d merges stored, want only the valid one", n)
	}
}

// stateOf is everything a merge touches, as text, without what moves forward (versions,
// update times) or what the merge itself adds (its own audit entries and merges row).
func stateOf(t *testing.T, b bundle, maxAudit int64) string {
	t.Helper()
	var s string
	err := b.Pool.QueryRow(b.Ctx, `SELECT jsonb_build_object(
		'contacts', (SELECT jsonb_agg(to_jsonb(c) - 'version' - 'updated_at' ORDER BY id) FROM contacts c),
		'accounts', (SELECT jsonb_agg(to_jsonb(r) ORDER BY id) FROM contact_accounts r WHERE removed_at IS NULL),
		'users', (SELECT jsonb_agg(to_jsonb(r) ORDER BY id) FROM contact_users r WHERE removed_at IS NULL),
		'refs', (SELECT jsonb_agg(to_jsonb(r) ORDER BY source, external_id) FROM external_refs r),
		'alternates', (SELECT jsonb_agg(to_jsonb(r) ORDER BY contact_id, kind, value) FROM contact_alternates r),
		'keys', (SELECT jsonb_agg(to_jsonb(r) ORDER BY contact_id, key) FROM contact_keys r),
		'audit', (SELECT jsonb_agg(jsonb_build_array(id, contact_id, changes) ORDER BY id) FROM audit_log WHERE id <= $1))::text`, maxAudit).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func maxAuditID(t *testing.T, b bundle) int64 {
	t.Helper()
	var id int64
	if err := b.Pool.QueryRow(b.Ctx, `SELECT coalesce(max(id), 0) FROM audit_log`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestUndoMergeRestoresExactly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := newRelFixture(t, b)
	if _, err := b.Pool.Exec(b.Ctx, `UPDATE contacts SET extra = '{"nick": "bee"}' WHERE id = $1`, f.ids[1]); err != nil {
		t.Fatal(err)
	}
	maxAudit := maxAuditID(t, b)
	before := stateOf(t, b, maxAudit)
	m, _, err := b.App.Merges.MergeContacts(b.Ctx, merge.Request{ContactIDs: f.ids,
		FieldValues: map[string]uuid.UUID{"email": f.ids[1], "phone": f.ids[1]}})
	if err != nil {
		t.Fatal(err)
	}
	if stateOf(t, b, maxAudit) == before {
		t.Fatal("the merge changed nothing")
	}
	undone, report, err := b.App.Merges.UndoMerge(b.Ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(report) != 0 || undone.UndoneAt == nil || undone.UndoneBy == nil || *undone.UndoneBy != "test" {
		t.Errorf("undo: report %q, merge %+v", report, undone)
	}
	if after := stateOf(t, b, maxAudit); after != before {
		t.Errorf("undo did not restore the state:\nbefore %s\nafter  %s", before, after)
	}
	if n := b.Count(t, `SELECT count(*) FROM audit_log WHERE action = 'unmerge'`); n != 3 {
		t.Errorf("%d unmerge audit entries, want 3", n)
	}
	_, _, err = b.App.Merges.UndoMerge(b.Ctx, m.ID)
	apptest.RequireKind(t, err, db.KindConflict)
}

func TestUndoMergeKeepsLaterChanges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := newRelFixture(t, b)
	m, survivor, err := b.App.Merges.MergeContacts(b.Ctx, merge.Request{ContactIDs: f.ids[:2],
		FieldValues: map[string]uuid.UUID{"firstName": f.ids[1], "email": f.ids[1]}})
	if err != nil {
		t.Fatal(err)
	}
	// After the merge: the survivor's first name changes, its relationship to Y (moved from B)
	// ends and it gets a new account Z.
	if _, err := b.App.Contacts.UpdateContact(b.Ctx, survivor.ID, contact.Update{FirstName: contact.Some("Later")}); err != nil {
		t.Fatal(err)
	}
	for _, r := range survivor.Relationships {
		if r.EntityID == f.acctY {
			if err := b.App.Relations.RemoveRelationship(b.Ctx, survivor.ID, r.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	z, err := b.App.Relations.CreateAccount(b.Ctx, "Z", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.App.Relations.AddRelationship(b.Ctx, survivor.ID, contact.NewRelationship{EntityType: "account", EntityID: z.ID.String()}); err != nil {
		t.Fatal(err)
	}
	_, report, err := b.App.Merges.UndoMerge(b.Ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(report, "\n")
	if len(report) != 2 || !strings.Contains(joined, `survivor.firstName changed since the merge; kept "Later"`) ||
		!strings.Contains(joined, f.acctY.String()) {
		t.Errorf("report %q", report)
	}
	a, bc := get(t, b, f.ids[0]), get(t, b, f.ids[1])
	if val(a.FirstName) != "Later" || val(a.Email) != "a@example.com" || val(a.Normalized.Email) != "a@example.com" {
		t.Errorf("survivor: firstName %s email %s", val(a.FirstName), val(a.Email))
	}
	if bc.Status != contact.StatusActive || bc.MergedInto != nil || val(bc.FirstName) != "B" {
		t.Errorf("restored B: %+v", bc)
	}
	var accts []uuid.UUID
	for _, r := range a.Relationships {
		if r.EntityType == contact.EntityAccount {
			accts = append(accts, r.EntityID)
			if r.EntityID == f.acctX && r.IsPrimary {
				t.Error("the survivor is still primary of X, which B was")
			}
		}
	}
	if len(accts) != 2 || !slices.Contains(accts, z.ID) {
		t.Errorf("survivor accounts %v, want X and the new Z", accts)
	}
	for _, r := range bc.Relationships {
		if r.EntityID == f.acctY {
			t.Error("B got back the relationship to Y removed since the merge")
		}
		if r.EntityID == f.acctX && !r.IsPrimary {
			t.Error("B is not primary of X again")
		}
	}
}

func TestUndoMergeRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ids := mergeFixture(t, b, contact.NewContact{FirstName: "A"}, contact.NewContact{FirstName: "B"}, contact.NewContact{FirstName: "C"})
	first, _, err := b.App.Merges.MergeContacts(b.Ctx, merge.Request{ContactIDs: ids[:2]})
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := b.App.Merges.MergeContacts(b.Ctx, merge.Request{ContactIDs: []uuid.UUID{ids[0], ids[2]}, SurvivorID: &ids[2]})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = b.App.Merges.UndoMerge(b.Ctx, first.ID)
	de := apptest.RequireKind(t, err, db.KindConflict)
	if !strings.Contains(de.Message, "undo that merge first") || !strings.Contains(de.Message, second.ID.String()) {
		t.Errorf("message %q does not name the later merge", de.Message)
	}
	_, _, err = b.App.Merges.UndoMerge(b.Ctx, uuid.Must(uuid.NewV7()))
	apptest.RequireKind(t, err, db.KindNotFound)
	// Undone in order, both go.
	for _, m := range []*merge.Merge{second, first} {
		if _, _, err := b.App.Merges.UndoMerge(b.Ctx, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.Count(t, `SELECT count(*) FROM contacts WHERE status = 'active' AND merged_into IS NULL`); n != 3 {
		t.Errorf("%d active contacts, want 3", n)
	}
	list, next, err := b.App.Merges.ListMerges(b.Ctx, nil, 1)
	if err != nil || len(list) != 1 || list[0].ID != second.ID || next == nil {
		t.Fatalf("first page: %v %v %v", list, next, err)
	}
	list, next, err = b.App.Merges.ListMerges(b.Ctx, next, 1)
	if err != nil || len(list) != 1 || list[0].ID != first.ID || list[0].UndoneAt == nil {
		t.Fatalf("second page: %v %v %v", list, next, err)
	}
}

// TestConcurrentMerges runs conflicting merges (and undos) over a few contacts at once and checks
// that the database keeps every merge invariant.
func TestConcurrentMerges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	accts := make([]uuid.UUID, 3)
	for i := range accts {
		a, err := b.App.Relations.CreateAccount(b.Ctx, fmt.Sprint("acct", i), "")
		if err != nil {
			t.Fatal(err)
		}
		accts[i] = a.ID
	}
	var in []contact.NewContact
	for i := range 12 {
		in = append(in, contact.NewContact{FirstName: fmt.Sprint("C", i), Email: fmt.Sprintf("c%d@example.com", i),
			Relationships: []contact.NewRelationship{{EntityType: "account", EntityID: accts[i%3].String(), IsPrimary: i < 3 || i%4 == 0}}})
	}
	ids := mergeFixture(t, b, in...)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var merges []uuid.UUID
	errs := make(chan error, 400)
	for g := range 40 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for round := range 3 {
				n := 2 + r.IntN(3)
				pick := r.Perm(len(ids))[:n]
				req := merge.Request{}
				for _, p := range pick {
					req.ContactIDs = append(req.ContactIDs, ids[p])
				}
				if g%3 == 0 {
					req.SurvivorID = &req.ContactIDs[n-1]
				}
				m, _, err := b.App.Merges.MergeContacts(b.Ctx, req)
				if err != nil {
					if db.ErrorKind(err) != db.KindInvalid {
						errs <- fmt.Errorf("merge %d: %w", g, err)
					}
					continue
				}
				mu.Lock()
				merges = append(merges, m.ID)
				mu.Unlock()
				if (g+round)%4 == 0 {
					if _, _, err := b.App.Merges.UndoMerge(b.Ctx, m.ID); err != nil && db.ErrorKind(err) != db.KindConflict {
						errs <- fmt.Errorf("undo %d: %w", g, err)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(merges) == 0 {
		t.Fatal("no merge succeeded")
	}
	invariants := []struct {
		name, sql string
	}{
		{"merged contacts point at a contact", `SELECT count(*) FROM contacts WHERE (status = 'merged') <> (merged_into IS NOT NULL)`},
		{"chains end at an active contact without cycles", `
			WITH RECURSIVE chain (start, id, depth) AS (
				SELECT id, merged_into, 1 FROM contacts WHERE merged_into IS NOT NULL
				UNION ALL
				SELECT chain.start, c.merged_into, depth + 1 FROM chain JOIN contacts c ON c.id = chain.id
				WHERE c.merged_into IS NOT NULL AND depth < 50)
			SELECT count(*) FROM (SELECT DISTINCT ON (start) start, id, depth FROM chain ORDER BY start, depth DESC) e
			JOIN contacts c ON c.id = e.id WHERE c.status <> 'active' OR e.depth >= 50`},
		{"each merged contact is merged by exactly one live merge, into its survivor", `
			SELECT count(*) FROM contacts c WHERE c.status = 'merged' AND (
				SELECT count(*) FROM merges m WHERE c.id = ANY(m.merged_ids) AND m.undone_at IS NULL AND m.survivor_id = c.merged_into) <> 1
				OR c.status = 'merged' AND (SELECT count(*) FROM merges m WHERE c.id = ANY(m.merged_ids) AND m.undone_at IS NULL) <> 1`},
		{"no live merge of an active contact", `SELECT count(*) FROM merges m, unnest(m.merged_ids) x(id) JOIN contacts c ON c.id = x.id
			WHERE m.undone_at IS NULL AND c.status <> 'merged'`},
		{"no current relationship on a merged contact", `SELECT count(*) FROM contact_accounts r JOIN contacts c ON c.id = r.contact_id
			WHERE r.removed_at IS NULL AND c.status = 'merged'`},
		{"no external reference on a merged contact", `SELECT count(*) FROM external_refs r JOIN contacts c ON c.id = r.contact_id WHERE c.status = 'merged'`},
		{"at most one primary per account", `SELECT count(*) FROM (SELECT account_id FROM contact_accounts
			WHERE is_primary AND removed_at IS NULL GROUP BY account_id HAVING count(*) > 1) x`},
		{"every contact keeps a current account relationship", `SELECT count(*) FROM contacts c WHERE c.status = 'active'
			AND NOT EXISTS (SELECT 1 FROM contact_accounts r WHERE r.contact_id = c.id AND r.removed_at IS NULL)`},
	}
	for _, inv := range invariants {
		if n := b.Count(t, inv.sql); n != 0 {
			t.Errorf("%s: %d violations", inv.name, n)
		}
	}
	t.Logf("%d merges succeeded", len(merges))
}
