package contactfile

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"
)

const benchRows = 100_000

// benchExportRows returns n export rows that look like real contacts.
func benchExportRows(n int) []ExportRow {
	valid := true
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]ExportRow, n)
	for i := range rows {
		rows[i] = ExportRow{
			ID:              fmt.Sprintf("0190f1a2-0000-7000-8000-%012d", i),
			FirstName:       "First" + strconv.Itoa(i%5000),
			LastName:        "Last" + strconv.Itoa(i%7919),
			Email:           "person" + strconv.Itoa(i) + "@example.com",
			Phone:           "+1415555" + fmt.Sprintf("%04d", i%10000),
			Title:           "Engineer",
			Company:         "Company " + strconv.Itoa(i%1000) + ", Inc.",
			NormalizedEmail: "person" + strconv.Itoa(i) + "@example.com",
			NormalizedPhone: "+1415555" + fmt.Sprintf("%04d", i%10000),
			PhoneValid:      &valid,
			Status:          "active",
			CreatedAt:       t0.Add(time.Duration(i) * time.Second),
			UpdatedAt:       t0.Add(time.Duration(i) * time.Minute),
			ExternalIDs:     []string{"crm:" + strconv.Itoa(i)},
		}
	}
	return rows
}

var benchFiles = sync.OnceValue(func() map[Format][]byte {
	rows := benchExportRows(benchRows)
	files := make(map[Format][]byte)
	for _, f := range []Format{CSV, NDJSON, VCard} {
		var buf bytes.Buffer
		w, _ := NewWriter(&buf, f)
		for i := range rows {
			w.Write(&rows[i])
		}
		w.Flush()
		files[f] = buf.Bytes()
	}
	// A plain CSV in the spec's names, as a customer would upload.
	var buf bytes.Buffer
	buf.WriteString("externalId,firstName,lastName,email,phone,title,company\n")
	for i := range rows[:benchRows] {
		r := &rows[i]
		fmt.Fprintf(&buf, "%d,%s,%s,%s,%s,%s,\"%s\"\n", i, r.FirstName, r.LastName, r.Email, r.Phone, r.Title, r.Company)
	}
	files["spec.csv"] = buf.Bytes()
	return files
})

func benchmarkRead(b *testing.B, file Format) {
	data := benchFiles()[file]
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data), Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != benchRows {
			b.Fatalf("read %d rows", n)
		}
	}
	b.ReportMetric(float64(benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkReadCSV reads a 100k-row CSV in the spec's column names.
func BenchmarkReadCSV(b *testing.B) { benchmarkRead(b, "spec.csv") }

// BenchmarkReadExportCSV reads a 100k-row contactd export.
func BenchmarkReadExportCSV(b *testing.B) { benchmarkRead(b, CSV) }

func BenchmarkReadNDJSON(b *testing.B) { benchmarkRead(b, NDJSON) }

func BenchmarkReadVCard(b *testing.B) { benchmarkRead(b, VCard) }

// BenchmarkSkipCSV measures resuming: skipping 100k rows.
func BenchmarkSkipCSV(b *testing.B) {
	data := benchFiles()["spec.csv"]
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data), Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Skip(benchRows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

func benchmarkWrite(b *testing.B, f Format) {
	rows := benchExportRows(1000)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		w, _ := NewWriter(io.Discard, f)
		for i := range rows {
			if err := w.Write(&rows[i]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		n += len(rows)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkWriteCSV(b *testing.B)    { benchmarkWrite(b, CSV) }
func BenchmarkWriteNDJSON(b *testing.B) { benchmarkWrite(b, NDJSON) }
func BenchmarkWriteVCard(b *testing.B)  { benchmarkWrite(b, VCard) }
