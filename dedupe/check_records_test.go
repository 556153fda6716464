package dedupe_test

import (
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/google/uuid"
)

// TestCheckRecordsAgreesWithCheckRecord checks that the batched check gives every record what
// the one-record check gives it.
func TestCheckRecordsAgreesWithCheckRecord(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.add(t, contact.NewContact{FirstName: "Robert", LastName: "Smithson", Email: "robert.smithson@acme-widgets.com", Phone: "+1 415 555 0142", Company: "Acme Widgets Inc"})
	b.add(t, contact.NewContact{FirstName: "Maria", LastName: "Gonzalez", Email: "maria.gonzalez@acme-widgets.com", Company: "Acme Widgets Inc"})
	b.add(t, contact.NewContact{FirstName: "John", LastName: "Miller", Email: "jmiller@globex.io", Company: "Globex"})
	records := []*contact.Contact{
		{Values: contact.Values{FirstName: ptr("Bob"), LastName: ptr("Smithson"), Email: ptr("robert.smithson@acme-widgets.com")}},
		{Values: contact.Values{FirstName: ptr("Jon"), LastName: ptr("Miller"), Company: ptr("Globex Corp")}},
		{Values: contact.Values{FirstName: ptr("Nobody"), LastName: ptr("Known"), Email: ptr("nobody@example.org")}},
		{Values: contact.Values{FirstName: ptr("Maria"), LastName: ptr("Gonzales"), Company: ptr("Acme Widgets")}},
	}
	batch, err := b.engine.CheckRecords(b.ctx, records)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for i, r := range records {
		one, err := b.engine.CheckRecord(b.ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		ids := func(ms []dedupe.Match) map[uuid.UUID]string {
			out := map[uuid.UUID]string{}
			for _, m := range ms {
				out[m.ContactID] = m.Decision.String()
			}
			return out
		}
		a, c := ids(one), ids(batch[i])
		if len(a) != len(c) {
			t.Fatalf("record %d: one by one %v, batched %v", i, a, c)
		}
		for id, d := range a {
			if c[id] != d {
				t.Fatalf("record %d: one by one %v, batched %v", i, a, c)
			}
		}
		found += len(a)
	}
	if found == 0 {
		t.Fatal("no record matched anything: the test proves nothing")
	}
}
