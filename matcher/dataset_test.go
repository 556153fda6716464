package matcher

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// datasetsDir holds the shared labelled data sets, relative to this package.
const datasetsDir = "../../shared/datasets"

// readCSV reads up to limit rows of a shared data set, skipping the test
// when the folder is absent.
func readCSV(t testing.TB, rel string, limit int) (header []string, rows [][]string) {
	t.Helper()
	f, err := os.Open(filepath.Join(datasetsDir, rel))
	if os.IsNotExist(err) {
		t.Skipf("shared data set %s not found", rel)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = -1
	header, err = r.Read()
	if err != nil {
		t.Fatal(err)
	}
	for limit <= 0 || len(rows) < limit {
		row, err := r.Read()
		if err != nil {
			break
		}
		rows = append(rows, row)
	}
	return header, rows
}

func toRecords(header []string, rows [][]string, skip string) []Record {
	out := make([]Record, len(rows))
	for i, row := range rows {
		r := Record{}
		for c, h := range header {
			if c < len(row) && h != skip {
				r[h] = row[c]
			}
		}
		out[i] = r
	}
	return out
}

var febrlRecID = regexp.MustCompile(`^rec-(\d+)-`)

// febrlSlice prepares the first n records of febrl3 and their labels.
func febrlSlice(t testing.TB, n int) (*Matcher, []*Prepared, []int32) {
	t.Helper()
	header, rows := readCSV(t, "febrl3/dataset3.csv", n)
	s, err := BuiltinSettings("febrl")
	if err != nil {
		t.Fatal(err)
	}
	s.Training.USamples = 200_000
	m, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int32{}
	var truth []int32
	var recs []*Prepared
	for _, r := range toRecords(header, rows, "") {
		id := febrlRecID.FindStringSubmatch(r["rec_id"])[1]
		if _, ok := ids[id]; !ok {
			ids[id] = int32(len(ids))
		}
		truth = append(truth, ids[id])
		delete(r, "rec_id")
		recs = append(recs, m.Prepare(r))
	}
	return m, recs, truth
}

// crmSlice prepares the first n CRM contacts and their labels.
func crmSlice(t testing.TB, n int) (*Matcher, []*Prepared, []int32) {
	t.Helper()
	header, rows := readCSV(t, "crm_contacts/contacts.csv", n)
	_, truthRows := readCSV(t, "crm_contacts/truth.csv", 0)
	entity := map[string]string{}
	for _, r := range truthRows {
		entity[r[0]] = r[1]
	}
	s := DefaultSettings()
	s.Training.USamples = 200_000
	m, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int32{}
	var truth []int32
	var recs []*Prepared
	for _, r := range toRecords(header, rows, "") {
		e := entity[r["externalId"]]
		if _, ok := ids[e]; !ok {
			ids[e] = int32(len(ids))
		}
		truth = append(truth, ids[e])
		recs = append(recs, m.Prepare(r))
	}
	return m, recs, truth
}

func TestFebrlSlice(t *testing.T) {
	t.Parallel()
	m, recs, truth := febrlSlice(t, 2000)
	md, err := m.Train(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if !md.Params().Training.Converged {
		t.Errorf("EM did not converge: %+v", md.Params().Training)
	}
	res, err := md.Dedupe(context.Background(), recs, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := Evaluate(res.Clusters, truth, nil)
	t.Logf("febrl3[:2000]: %+v, %d candidate pairs", got, res.Blocking.CandidatePairs)
	if got.F1 < 0.98 || got.Precision < 0.99 {
		t.Errorf("febrl3 slice: %+v; want F1 >= 0.98 and precision >= 0.99", got)
	}
}

func TestCRMSlice(t *testing.T) {
	t.Parallel()
	m, recs, truth := crmSlice(t, 8000)
	md, err := m.Train(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	res, err := md.Dedupe(context.Background(), recs, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := Evaluate(res.Clusters, truth, nil)
	t.Logf("crm_contacts[:8000]: %+v", got)
	if got.F1 < 0.9 || got.Precision < 0.98 {
		t.Errorf("crm slice: %+v; want F1 >= 0.9 and precision >= 0.98", got)
	}
}

func TestTrainDeterministic(t *testing.T) {
	t.Parallel()
	m, recs, _ := crmSlice(t, 3000)
	a, err := m.Train(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Train(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := a.MarshalJSON()
	jb, _ := b.MarshalJSON()
	if string(ja) != string(jb) {
		t.Fatal("two trainings on the same data differ")
	}
}

func TestModelRoundTrip(t *testing.T) {
	t.Parallel()
	m, recs, _ := crmSlice(t, 3000)
	md, err := m.Train(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	data, err := md.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 200_000 {
		t.Errorf("model JSON is %d bytes; want a small document", len(data))
	}
	back, err := LoadModel(data)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.MarshalJSON()
	if string(again) != string(data) {
		t.Fatal("model JSON changed after a round trip")
	}
	for i := 1; i < 200; i++ {
		if a, b := md.Score(recs[0], recs[i]), back.Score(recs[0], recs[i]); a != b {
			t.Fatalf("pair 0-%d scores %v before and %v after reload", i, a, b)
		}
	}
	if _, err := LoadModel([]byte(`{"version":99}`)); err == nil {
		t.Fatal("LoadModel accepted a wrong version")
	}
}
