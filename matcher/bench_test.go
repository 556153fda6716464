package matcher

import (
	"context"
	"runtime"
	"testing"
)

// benchPairs returns candidate pairs of a CRM slice, as the full scan
// finds them.
func benchPairs(b *testing.B, n int) (*Model, []*Prepared, [][2]int32) {
	b.Helper()
	m, recs, _ := crmSlice(b, n)
	md, err := m.Train(context.Background(), recs)
	if err != nil {
		b.Fatal(err)
	}
	sc, err := m.newScanner(context.Background(), recs, nil)
	if err != nil {
		b.Fatal(err)
	}
	var pairs [][2]int32
	ch := make(chan [2]int32, 1024)
	done := make(chan struct{})
	go func() {
		for p := range ch {
			pairs = append(pairs, p)
		}
		close(done)
	}()
	if err := sc.run(context.Background(), func(_ int, i, j int32) { ch <- [2]int32{i, j} }); err != nil {
		b.Fatal(err)
	}
	close(ch)
	<-done
	return md, recs, pairs
}

// BenchmarkScorePair scores candidate pairs on one core; pairs/s is the
// per-core throughput of the full scan's hot path.
func BenchmarkScorePair(b *testing.B) {
	md, recs, pairs := benchPairs(b, 20000)
	b.ResetTimer()
	n := 0
	for b.Loop() {
		p := pairs[n%len(pairs)]
		_ = md.Score(recs[p[0]], recs[p[1]])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "pairs/s")
}

// BenchmarkMatch scores one new record against ten candidates, as the
// dedupe job does for each created or updated contact.
func BenchmarkMatch(b *testing.B) {
	md, recs, _ := benchPairs(b, 2000)
	rec := md.Matcher().Prepare(Record{"firstName": "Bob", "lastName": "Smith", "email": "bob.smith@gmail.com", "phone": "415 555 2671", "company": "Acme", "title": "CFO"})
	cands := recs[:10]
	for b.Loop() {
		_ = md.Match(rec, cands)
	}
}

func BenchmarkPrepare(b *testing.B) {
	m, err := New(DefaultSettings())
	if err != nil {
		b.Fatal(err)
	}
	r := Record{"firstName": "Zoë", "lastName": "O'Brien", "email": "Zoe.OBrien+crm@gmail.com", "phone": "+44 20 7946 0958 ext 12", "company": "Acme, Inc.", "title": "Chief Financial Officer"}
	for b.Loop() {
		_ = m.Prepare(r)
	}
}

func BenchmarkKeys(b *testing.B) {
	m, err := New(DefaultSettings())
	if err != nil {
		b.Fatal(err)
	}
	p := m.Prepare(Record{"firstName": "Zoë", "lastName": "O'Brien", "email": "Zoe.OBrien+crm@gmail.com", "phone": "+44 20 7946 0958", "company": "Acme, Inc."})
	for b.Loop() {
		_ = m.Keys(p)
	}
}

// BenchmarkBlocking computes keys and blocks of the CRM data set and
// enumerates its candidate pairs.
func BenchmarkBlocking(b *testing.B) {
	m, recs, _ := crmSlice(b, 0)
	for b.Loop() {
		sc, err := m.newScanner(context.Background(), recs, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := sc.run(context.Background(), func(int, int32, int32) {}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDedupe scans, scores and clusters the CRM data set on all
// cores with a trained model.
func BenchmarkDedupe(b *testing.B) {
	m, recs, _ := crmSlice(b, 0)
	md, err := m.Train(context.Background(), recs)
	if err != nil {
		b.Fatal(err)
	}
	var pairs int64
	for b.Loop() {
		res, err := md.Dedupe(context.Background(), recs, ScanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		pairs += res.Blocking.CandidatePairs
	}
	b.ReportMetric(float64(pairs)/b.Elapsed().Seconds()/float64(runtime.GOMAXPROCS(0)), "pairs/s/core")
}

// BenchmarkTrain trains on the CRM data set.
func BenchmarkTrain(b *testing.B) {
	m, recs, _ := crmSlice(b, 0)
	for b.Loop() {
		if _, err := m.Train(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
}
