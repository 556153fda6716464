package event_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/event"
	"github.com/contactd/contactd/internal/apptest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// BenchmarkImportBatchEvents measures what the outbox adds to an import batch: the COPY of
// 20,000 import audit entries (as importer writes them) with the events trigger and with it
// disabled, then numbering the batch's events (Sequence). make bench-webhooks runs it.
func BenchmarkImportBatchEvents(b *testing.B) {
	const rows = 20_000
	bundle := apptest.New(b)
	ids := make([]uuid.UUID, rows)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
	}
	copyBatch := func(b *testing.B) {
		err := bundle.App.DB.InTx(bundle.Ctx, func(tx pgx.Tx) error {
			return contact.CopyAuditTx(bundle.Ctx, tx, "bench", "import", rows, func(i int, buf []byte) (uuid.UUID, []byte) {
				return ids[i], fmt.Appendf(buf, `{"import":{"before":null,"after":{"line":%d}},"firstName":{"before":null,"after":"First%d"},"email":{"before":null,"after":"p%d@example.com"}}`, i, i, i)
			})
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		trigger string
	}{{"without-events", "DISABLE"}, {"with-events", "ENABLE"}} {
		b.Run(tc.name, func(b *testing.B) {
			if _, err := bundle.Pool.Exec(context.Background(), "ALTER TABLE audit_log "+tc.trigger+" TRIGGER audit_log_events"); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				copyBatch(b)
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
	b.Run("sequence", func(b *testing.B) {
		if _, err := event.Sequence(bundle.Ctx, bundle.App.DB); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			b.StopTimer()
			copyBatch(b)
			b.StartTimer()
			if _, err := event.Sequence(bundle.Ctx, bundle.App.DB); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
