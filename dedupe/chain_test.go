package dedupe_test

import (
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/google/uuid"
)

// TestCheckKeepsTheScansClusteringRule: a check, one contact or a batch, or a scan does not
// merge a contact into a survivor when it clearly differs from a contact merged into that survivor
// before, as one clustering of the three would not put them together. Roberta took over Robert's
// address; Bob (Robert's private record) was merged into Robert first.
func TestCheckKeepsTheScansClusteringRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		check func(b bundle, t *testing.T, id uuid.UUID)
	}{
		{"one contact", func(b bundle, t *testing.T, id uuid.UUID) {
			if _, err := b.engine.CheckContact(b.ctx, id); err != nil {
				t.Fatal(err)
			}
		}},
		{"a batch", func(b bundle, t *testing.T, id uuid.UUID) {
			if _, err := b.engine.CheckBatch(b.ctx, []uuid.UUID{id}); err != nil {
				t.Fatal(err)
			}
		}},
		{"a scan", func(b bundle, t *testing.T, _ uuid.UUID) {
			st, err := b.engine.Scan(b.ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if st.Merges != 0 {
				t.Errorf("the scan made %d merges; want none", st.Merges)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			robert := b.add(t, contact.NewContact{FirstName: "Robert", LastName: "Smithson", Email: "robert.smithson@acme-widgets.com", Phone: "+1 415 555 0142", Company: "Acme Widgets"})
			bob := b.add(t, contact.NewContact{FirstName: "Bob", LastName: "Smithson", Email: "bob.smithson@gmail.com", Phone: "+1 415 555 0142", Company: "Acme Widgets", Title: "CTO"})
			out, err := b.engine.CheckContact(b.ctx, bob)
			if err != nil || len(out.Merged) != 2 {
				t.Fatalf("Bob was not merged into Robert: %+v %v", out, err)
			}
			if st, into := b.status(t, bob); st != contact.StatusMerged || into == nil || *into != robert {
				t.Fatalf("Bob is %s into %v", st, into)
			}
			roberta := b.add(t, contact.NewContact{FirstName: "Roberta", LastName: "Smithson", Email: "robert.smithson@acme-widgets.com", Phone: "+1 212 555 0199", Company: "Acme Widgets", Title: "Buyer"})
			tt.check(b, t, roberta)
			if st, _ := b.status(t, roberta); st != contact.StatusActive {
				t.Fatalf("Roberta was merged with Robert although she clearly differs from Bob, merged into him")
			}
			if got := b.pairReview(t, robert, roberta); got != "open" {
				t.Errorf("Robert and Roberta: review %q, want open", got)
			}
		})
	}
}
