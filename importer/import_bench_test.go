package importer_test

import (
	"fmt"
	"testing"

	"github.com/contactd/contactd/contactfile"
	"github.com/contactd/contactd/importer"
)

// BenchmarkPrepareImportRow measures validating and normalizing one imported record.
func BenchmarkPrepareImportRow(b *testing.B) {
	inputs := make([]contactfile.Row, 1000)
	for i := range inputs {
		inputs[i] = contactfile.Row{Index: i, Line: i + 2, ExternalID: fmt.Sprint("e", i),
			FirstName: fmt.Sprint("First", i), LastName: "Last", Email: fmt.Sprintf("p%d@example.com", i),
			Phone: fmt.Sprintf("+1 415 555 %04d", i), Title: "CTO", Company: "Acme"}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, errs := importer.PrepareImportRow(&inputs[i%len(inputs)], "US"); errs != nil {
			b.Fatal(errs)
		}
	}
}
