package contactfile

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func sampleExportRows() []ExportRow {
	valid, invalid := true, false
	created := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	return []ExportRow{
		{
			ID: "0190f1a2-0000-7000-8000-000000000001", FirstName: "Ada", LastName: "Lovelace",
			Email: "Ada@Example.com", Phone: "+14155550100", Title: "Analyst", Company: "Engines, Ltd",
			NormalizedEmail: "ada@example.com", NormalizedPhone: "+14155550100", PhoneValid: &valid,
			Status: "active", CreatedAt: created, UpdatedAt: created.Add(time.Hour), Type: "account",
			ExternalIDs: []string{"google:c123", "contactd:0190f1a2-0000-7000-8000-000000000001"},
		},
		{
			ID: "0190f1a2-0000-7000-8000-000000000002", FirstName: "=HYPERLINK(\"http://evil\")", LastName: "@SUM(A1)",
			Email: "-x@example.com", Phone: "(415) 555-0100 x12", Title: "'=already quoted", Company: "Line\nbreak; \"quoted\"",
			PhoneExtension: "12", PhoneValid: &invalid, Status: "active", CreatedAt: created,
		},
		{ID: "0190f1a2-0000-7000-8000-000000000003", FirstName: "Ünïcødé ☃", Phone: "\t+1 415 555 0199"},
	}
}

func TestCSVWriter(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewCSVWriter(&buf)
	rows := sampleExportRows()
	for i := range rows {
		if err := w.Write(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(buf.String(), "\n", 3)
	if want := strings.Join(ExportHeader(), ",") + ",tags,street,city,region,postalCode,country,type"; lines[0] != want {
		t.Errorf("header %q, want %q", lines[0], want)
	}
	wantRow := `0190f1a2-0000-7000-8000-000000000001,Ada,Lovelace,Ada@Example.com,'+14155550100,Analyst,"Engines, Ltd",` +
		`ada@example.com,'+14155550100,,true,active,2026-03-01T12:30:00Z,2026-03-01T13:30:00Z,google:c123;contactd:0190f1a2-0000-7000-8000-000000000001,,,,,,,account`
	if lines[1] != wantRow {
		t.Errorf("row\n %q\nwant\n %q", lines[1], wantRow)
	}
	for _, cell := range []string{`"'=HYPERLINK(""http://evil"")"`, `'@SUM(A1)`, `'-x@example.com`, `''=already quoted`} {
		if !strings.Contains(lines[2], cell) {
			t.Errorf("second row lacks escaped cell %s: %q", cell, lines[2])
		}
	}
}

func TestCSVWriterEmptyHasHeader(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := NewCSVWriter(&buf).Flush(); err != nil {
		t.Fatal(err)
	}
	if buf.String() != strings.Join(ExportHeader(), ",")+",tags,street,city,region,postalCode,country,type\n" {
		t.Errorf("got %q", buf.String())
	}
}

func TestNDJSONWriter(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewNDJSONWriter(&buf)
	rows := sampleExportRows()
	rows[2].LastName = "bad \xFF utf8 \u2028 \x01"
	for i := range rows {
		if err := w.Write(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(rows) {
		t.Fatalf("%d lines for %d rows", len(lines), len(rows))
	}
	type decoded struct {
		ID          string    `json:"id"`
		FirstName   string    `json:"firstName"`
		LastName    string    `json:"lastName"`
		Company     string    `json:"company"`
		PhoneValid  *bool     `json:"phoneValid"`
		CreatedAt   time.Time `json:"createdAt"`
		UpdatedAt   *string   `json:"updatedAt"`
		ExternalIDs []string  `json:"externalIds"`
	}
	for i, line := range lines {
		var d decoded
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("line %d %q: %v", i, line, err)
		}
		want := rows[i]
		if i == 2 {
			want.LastName = "bad \uFFFD utf8 \u2028 \x01"
		}
		if d.ID != want.ID || d.FirstName != want.FirstName || d.LastName != want.LastName || d.Company != want.Company ||
			!d.CreatedAt.Equal(want.CreatedAt) || len(d.ExternalIDs) != len(want.ExternalIDs) ||
			(d.PhoneValid == nil) != (want.PhoneValid == nil) {
			t.Errorf("line %d decoded %+v from %q", i, d, line)
		}
	}
	if !strings.Contains(lines[2], `"updatedAt":null`) || !strings.Contains(lines[2], `\u2028`) {
		t.Errorf("line 3 %q", lines[2])
	}
}

func TestVCardWriter(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewVCardWriter(&buf)
	rows := sampleExportRows()
	rows[0].Title = strings.Repeat("Very long title ", 10) + "ünïcødé"
	for i := range rows {
		if err := w.Write(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for l := range strings.SplitSeq(out, "\r\n") {
		if len(l) > 75 {
			t.Errorf("line longer than 75 octets: %q", l)
		}
	}
	for _, want := range []string{
		"BEGIN:VCARD\r\nVERSION:4.0\r\nUID:0190f1a2-0000-7000-8000-000000000001\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\n",
		"EMAIL;PREF=1:Ada@Example.com\r\n", "TEL;VALUE=text;PREF=1:+14155550100\r\n",
		"ORG:Engines\\, Ltd\r\n", "X-CONTACTD-EXTERNAL-ID:google:c123\r\n", "REV:20260301T133000Z\r\n",
		"ORG:Line\\nbreak\\; \"quoted\"\r\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestNewWriter(t *testing.T) {
	t.Parallel()
	for _, f := range []Format{CSV, NDJSON, VCard} {
		if _, err := NewWriter(&bytes.Buffer{}, f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := NewWriter(&bytes.Buffer{}, "xlsx"); err == nil {
		t.Error("xlsx: no error")
	}
}

func TestFormulaEscapeIsReversible(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "'", "''", "=1+1", "'=1+1", "''=x", "+1415", "-", "@", "\tx", "'hello", "plain", "'-'"} {
		cell := s
		if needsFormulaEscape(s) {
			cell = "'" + s
		}
		if got := unescapeFormula(cell); got != s {
			t.Errorf("%q escaped to %q read back as %q", s, cell, got)
		}
		if len(cell) > 0 && formulaTrigger(cell[0]) {
			t.Errorf("%q escaped to %q still begins with a trigger", s, cell)
		}
	}
}
