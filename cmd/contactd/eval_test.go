package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// evalDatasets is the shared data folder, relative to this package.
const evalDatasets = "../../../shared/datasets"

func datasetPath(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(evalDatasets, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data set %s not available: %v", rel, err)
	}
	return p
}

func TestRunEvalFebrlJSON(t *testing.T) {
	t.Parallel()
	data := datasetPath(t, "febrl1/dataset1.csv")
	var out, errOut bytes.Buffer
	err := runEval(context.Background(), []string{"--settings", "febrl", "--data", data, "--id", "rec_id", "--truth", "febrl", "--json"}, &out, &errOut)
	if err != nil {
		t.Fatalf("runEval: %v (stderr %s)", err, errOut.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
	}
	for _, k := range []string{"precision", "recall", "f1", "bestThreshold", "bestF1", "candidatePairs", "seconds", "peakMiB"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if f1, _ := rep["f1"].(float64); f1 < 0.99 {
		t.Errorf("febrl1 F1 = %v; want >= 0.99", f1)
	}
}

func TestRunEvalLinkAndTable(t *testing.T) {
	t.Parallel()
	a := datasetPath(t, "febrl4/dataset4a.csv")
	b := datasetPath(t, "febrl4/dataset4b.csv")
	var out bytes.Buffer
	err := runEval(context.Background(), []string{"--settings", "febrl", "--data", a, "--data2", b, "--id", "rec_id", "--truth", "febrl", "--sweep=false", "--row", "febrl4"}, &out, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(out.String())
	if len(fields) < 8 || fields[0] != "febrl4" || fields[1] != "10000" {
		t.Fatalf("unexpected row %q", out.String())
	}
}

func TestRunEvalTruthFile(t *testing.T) {
	t.Parallel()
	contacts := datasetPath(t, "crm_contacts/contacts.csv")
	truth := datasetPath(t, "crm_contacts/truth.csv")
	// A slice keeps the test fast.
	dir := t.TempDir()
	raw, err := os.ReadFile(contacts)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(raw), "\n")
	slice := filepath.Join(dir, "contacts.csv")
	if err := os.WriteFile(slice, []byte(strings.Join(lines[:3001], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = runEval(context.Background(), []string{"--data", slice, "--id", "externalId", "--truth-file", truth}, &out, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"precision", "recall", "F1", "candidate pairs", "train", "peak"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunEvalErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no data", []string{"--truth", "x"}, "--data is required"},
		{"no truth", []string{"--data", "x.csv"}, "--truth"},
		{"missing file", []string{"--data", "/nonexistent.csv", "--truth", "x"}, "no such file"},
		{"bad settings", []string{"--settings", "nope", "--data", "x.csv", "--truth", "x"}, "no built-in settings"},
		{"bad flag", []string{"--bogus"}, "bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := runEval(context.Background(), tt.args, &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v; want it to mention %q", err, tt.want)
			}
		})
	}
}
