package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/contactd/contactd/matcher"
)

// evalConfig holds the flags of contactd eval.
type evalConfig struct {
	settings  string
	data      string
	data2     string
	id        string
	truth     string
	truthFile string
	jsonOut   bool
	row       string
	sweep     bool
	model     string
	errors    int
	cpuprof   string
}

// evalReport is what contactd eval prints with --json.
type evalReport struct {
	Dataset        string                 `json:"dataset"`
	Settings       string                 `json:"settings"`
	Records        int                    `json:"records"`
	Precision      float64                `json:"precision"`
	Recall         float64                `json:"recall"`
	F1             float64                `json:"f1"`
	BestThreshold  float64                `json:"bestThreshold"`
	BestPrecision  float64                `json:"bestPrecision"`
	BestRecall     float64                `json:"bestRecall"`
	BestF1         float64                `json:"bestF1"`
	Threshold      float64                `json:"threshold"`
	ReviewPairs    int                    `json:"reviewPairs"`
	CandidatePairs int64                  `json:"candidatePairs"`
	Seconds        float64                `json:"seconds"` // load to clusters, without the sweep
	PeakMiB        float64                `json:"peakMiB"`
	Stages         []evalStage            `json:"stages"`
	Blocking       *matcher.BlockingStats `json:"blocking,omitempty"`
}

// evalStage times one stage; PeakMiB is the process peak so far.
type evalStage struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	PeakMiB float64 `json:"peakMiB"`
}

const evalUsage = `usage: contactd eval [--settings FILE|NAME] --data FILE.csv [--data2 FILE.csv]
       [--id COLUMN] [--truth COLUMN|febrl] [--truth-file FILE.csv] [--json]

Trains a matcher on the data without labels, scores and clusters it, and
prints pairwise precision, recall and F1 against the labels.`

// runEval implements "contactd eval".
func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	var cfg evalConfig
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { say(stderr, "%s\n", evalUsage); fs.PrintDefaults() }
	fs.StringVar(&cfg.settings, "settings", "", "settings JSON file or built-in name ("+strings.Join(matcher.BuiltinSettingsNames(), ", ")+"); default: contacts")
	fs.StringVar(&cfg.data, "data", "", "CSV file to deduplicate (or the left side of a linkage)")
	fs.StringVar(&cfg.data2, "data2", "", "CSV file to link with --data")
	fs.StringVar(&cfg.id, "id", "", "column holding the record id")
	fs.StringVar(&cfg.truth, "truth", "", `column holding the true entity, or "febrl" to read it from rec_id (rec-N-org, rec-N-dup-k)`)
	fs.StringVar(&cfg.truthFile, "truth-file", "", "CSV file of id,entity labels joined on --id")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print one JSON object")
	fs.StringVar(&cfg.row, "row", "", "print one table row labelled with this name (see make eval)")
	header := fs.Bool("header", false, "print the header of the --row table and exit")
	fs.BoolVar(&cfg.sweep, "sweep", true, "search the best threshold (clusters once per candidate threshold)")
	fs.StringVar(&cfg.model, "model-out", "", "write the trained model JSON to this file")
	fs.StringVar(&cfg.cpuprof, "cpuprofile", "", "write a CPU profile to this file")
	fs.IntVar(&cfg.errors, "show-errors", 0, "explain up to N wrongly merged and N missed pairs on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *header {
		_, err := fmt.Fprintln(stdout, evalHeader)
		return err
	}
	if cfg.data == "" {
		fs.Usage()
		return errors.New("eval: --data is required")
	}
	if cfg.truth == "" && cfg.truthFile == "" {
		return errors.New("eval: --truth or --truth-file is required")
	}
	if cfg.cpuprof != "" {
		f, err := os.Create(cfg.cpuprof)
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close() // the empty profile's close error says nothing the start's does not
			return fmt.Errorf("eval: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			if cerr := f.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("eval: cpu profile: %w", cerr)
			}
		}()
	}
	rep, err := evaluate(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	switch {
	case cfg.jsonOut:
		return json.NewEncoder(stdout).Encode(rep)
	case cfg.row != "":
		return printRow(stdout, cfg.row, rep)
	}
	return printReport(stdout, rep)
}

func loadSettings(name string) (*matcher.Settings, error) {
	if name == "" {
		return matcher.DefaultSettings(), nil
	}
	if data, err := os.ReadFile(name); err == nil {
		return matcher.ParseSettings(data)
	} else if strings.ContainsAny(name, "/.") {
		return nil, fmt.Errorf("eval: settings: %w", err)
	}
	return matcher.BuiltinSettings(name)
}

// table is a CSV file read whole.
type table struct {
	header []string
	rows   [][]string
}

func readTable(path string) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	defer f.Close() //nolint:errcheck // read only: a read error would have shown already
	r := csv.NewReader(f)
	r.TrimLeadingSpace = true
	r.ReuseRecord = false
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("eval: %s: header: %w", path, err)
	}
	for i := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff"))
	}
	t := &table{header: header}
	for {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("eval: %s: %w", path, err)
		}
		t.rows = append(t.rows, row)
	}
	return t, nil
}

func (t *table) column(name string) int {
	return slices.Index(t.header, name)
}

var febrlID = regexp.MustCompile(`^rec-(\d+)-(org|dup-\d+)$`)

// labels returns one entity number per row, read only for scoring.
func labels(t *table, cfg evalConfig, entities map[string]int32) ([]int32, error) {
	out := make([]int32, len(t.rows))
	entity := func(s string) int32 {
		if e, ok := entities[s]; ok {
			return e
		}
		e := int32(len(entities))
		entities[s] = e
		return e
	}
	idCol := t.column(cfg.id)
	switch {
	case cfg.truthFile != "":
		if idCol < 0 {
			return nil, fmt.Errorf("eval: --truth-file needs --id naming a column, have %q", cfg.id)
		}
		tt, err := readTable(cfg.truthFile)
		if err != nil {
			return nil, err
		}
		byID := make(map[string]string, len(tt.rows))
		for _, r := range tt.rows {
			if len(r) >= 2 {
				byID[r[0]] = r[1]
			}
		}
		for i, r := range t.rows {
			e, ok := byID[r[idCol]]
			if !ok {
				return nil, fmt.Errorf("eval: no label for id %q", r[idCol])
			}
			out[i] = entity(e)
		}
	case cfg.truth == "febrl":
		col := cmpOr(idCol, t.column("rec_id"))
		if col < 0 {
			return nil, errors.New("eval: --truth febrl needs a rec_id column")
		}
		for i, r := range t.rows {
			m := febrlID.FindStringSubmatch(strings.TrimSpace(r[col]))
			if m == nil {
				return nil, fmt.Errorf("eval: rec_id %q is not rec-N-org or rec-N-dup-k", r[col])
			}
			out[i] = entity(m[1])
		}
	default:
		col := t.column(cfg.truth)
		if col < 0 {
			return nil, fmt.Errorf("eval: no truth column %q in %v", cfg.truth, t.header)
		}
		for i, r := range t.rows {
			out[i] = entity(r[col])
		}
	}
	return out, nil
}

func cmpOr(a, b int) int {
	if a >= 0 {
		return a
	}
	return b
}

// prepareAll normalizes the rows on all cores, leaving out the truth
// column so that labels cannot leak into matching. Each worker reuses one
// record map.
func prepareAll(m *matcher.Matcher, t *table, cfg evalConfig) []*matcher.Prepared {
	out := make([]*matcher.Prepared, len(t.rows))
	workers := runtime.GOMAXPROCS(0)
	done := make(chan struct{})
	for w := range workers {
		go func() {
			r := make(matcher.Record, len(t.header))
			for i := w; i < len(t.rows); i += workers {
				row := t.rows[i]
				for c, name := range t.header {
					if c < len(row) && name != cfg.truth {
						r[name] = row[c]
					}
				}
				out[i] = m.Prepare(r)
			}
			done <- struct{}{}
		}()
	}
	for range workers {
		<-done
	}
	return out
}

func peakMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}

// loadData reads the CSV files and their labels; source marks the right
// side's rows in linkage and is nil otherwise.
func loadData(cfg evalConfig) (left, right *table, truth []int32, source []uint8, err error) {
	entities := map[string]int32{}
	if left, err = readTable(cfg.data); err != nil {
		return nil, nil, nil, nil, err
	}
	if truth, err = labels(left, cfg, entities); err != nil {
		return nil, nil, nil, nil, err
	}
	if cfg.data2 == "" {
		return left, nil, truth, nil, nil
	}
	if right, err = readTable(cfg.data2); err != nil {
		return nil, nil, nil, nil, err
	}
	t2, err := labels(right, cfg, entities)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	truth = append(truth, t2...)
	source = make([]uint8, len(truth))
	for i := len(left.rows); i < len(source); i++ {
		source[i] = 1
	}
	return left, right, truth, source, nil
}

// evaluate trains, scores and clusters in process, timing each stage, and
// measures the result against the labels.
func evaluate(ctx context.Context, cfg evalConfig, stderr io.Writer) (*evalReport, error) {
	settings, err := loadSettings(cfg.settings)
	if err != nil {
		return nil, err
	}
	m, err := matcher.New(settings)
	if err != nil {
		return nil, err
	}
	rep := &evalReport{Dataset: cfg.data, Settings: settings.Name}
	start := time.Now()
	last := start
	stage := func(name string) {
		now := time.Now()
		rep.Stages = append(rep.Stages, evalStage{Name: name, Seconds: now.Sub(last).Seconds(), PeakMiB: peakMiB()})
		last = now
	}

	left, right, truth, source, err := loadData(cfg)
	if err != nil {
		return nil, err
	}
	stage("load")

	recs := prepareAll(m, left, cfg)
	var recs2 []*matcher.Prepared
	if right != nil {
		recs2 = prepareAll(m, right, cfg)
	}
	left, right = nil, nil
	rep.Records = len(recs) + len(recs2)
	stage("prepare")

	var model *matcher.Model
	if recs2 != nil {
		model, err = m.TrainLink(ctx, recs, recs2)
	} else {
		model, err = m.Train(ctx, recs)
	}
	if err != nil {
		return nil, err
	}
	stage("train")
	if cfg.model != "" {
		data, err := json.MarshalIndent(model, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("eval: model: %w", err)
		}
		if err := os.WriteFile(cfg.model, data, 0o644); err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
	}

	same, possible, _ := model.Thresholds()
	opt := matcher.ScanOptions{SkipClustering: true}
	if cfg.sweep {
		opt.MinWeight = math.Min(possible, -10)
	}
	var res *matcher.Result
	all := recs
	if recs2 != nil {
		res, err = model.Link(ctx, recs, recs2, opt)
		all = append(slices.Clip(recs), recs2...)
	} else {
		res, err = model.Dedupe(ctx, recs, opt)
	}
	if err != nil {
		return nil, err
	}
	rep.CandidatePairs = res.Blocking.CandidatePairs
	rep.Blocking = &res.Blocking
	for _, e := range res.Edges {
		if float64(e.Weight) >= possible && float64(e.Weight) < same {
			rep.ReviewPairs++
		}
	}
	stage("score")

	copt := model.ClusterOptions(source)
	clusters := model.Cluster(all, res.Edges, copt)
	stage("cluster")

	if cfg.errors > 0 {
		showErrors(stderr, model, all, res.Edges, clusters, truth, cfg.errors)
	}
	met := matcher.Evaluate(clusters, truth, source)
	rep.Precision, rep.Recall, rep.F1 = met.Precision, met.Recall, met.F1
	rep.Threshold = round6(matcher.Probability(same))
	rep.BestThreshold, rep.BestF1, rep.BestPrecision, rep.BestRecall = rep.Threshold, met.F1, met.Precision, met.Recall
	rep.Seconds = time.Since(start).Seconds()
	rep.PeakMiB = peakMiB()
	if cfg.sweep {
		sweep(rep, model, all, res.Edges, truth, copt)
		stage("sweep")
	}
	return rep, nil
}

// sweep clusters at every whole match weight from -10 to 40 bits and keeps
// the threshold with the best F1.
func sweep(rep *evalReport, model *matcher.Model, all []*matcher.Prepared, edges []matcher.Edge, truth []int32, copt matcher.ClusterOptions) {
	for w := -10.0; w <= 40; w++ {
		o := copt
		o.Threshold = w
		o.Conflict = math.Min(copt.Conflict, w)
		mt := matcher.Evaluate(model.Cluster(all, edges, o), truth, copt.Source)
		if mt.F1 > rep.BestF1 {
			rep.BestF1, rep.BestPrecision, rep.BestRecall = mt.F1, mt.Precision, mt.Recall
			rep.BestThreshold = round6(matcher.Probability(w))
		}
	}
}

// round6 rounds to six decimals for readable JSON.
func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// printReport prints the evaluation for a person and returns the first write error.
func printReport(out io.Writer, r *evalReport) error {
	// w keeps the first write error, which every later Fprintf would return again: checked once.
	w := &errWriter{w: out}
	fmt.Fprintf(w, "data set        %s (%d records, settings %s)\n", r.Dataset, r.Records, r.Settings)
	fmt.Fprintf(w, "candidate pairs %d (review: %d)\n", r.CandidatePairs, r.ReviewPairs)
	if r.Blocking != nil {
		for _, b := range r.Blocking.Rules {
			fmt.Fprintf(w, "  rule %-20s %9d pairs  %7d blocks  largest %6d  oversized %d (%d records, windowed)\n",
				b.Name, b.Pairs, b.Blocks, b.LargestBlock, b.Oversized, b.OversizedRecords)
		}
	}
	fmt.Fprintf(w, "at p >= %-8g  precision %.4f  recall %.4f  F1 %.4f\n", r.Threshold, r.Precision, r.Recall, r.F1)
	fmt.Fprintf(w, "best p >= %-6g  precision %.4f  recall %.4f  F1 %.4f\n", r.BestThreshold, r.BestPrecision, r.BestRecall, r.BestF1)
	for _, s := range r.Stages {
		fmt.Fprintf(w, "  %-8s %7.2fs  peak %7.1f MiB\n", s.Name, s.Seconds, s.PeakMiB)
	}
	fmt.Fprintf(w, "load to clusters %.2fs, peak %.1f MiB\n", r.Seconds, r.PeakMiB)
	return w.err
}

// showErrors explains wrongly merged edges and missed true edges.
func showErrors(w io.Writer, md *matcher.Model, recs []*matcher.Prepared, edges []matcher.Edge, clusters, truth []int32, n int) {
	explain := func(kind string, a, b int32) {
		e := md.Explain(recs[a], recs[b])
		say(w, "%s %d-%d total %.2f (prior %.2f)\n", kind, a, b, e.Total, e.Prior)
		for _, f := range e.Fields {
			say(w, "    %-14s %-28q %-28q %-22s %6.2f\n", f.Field, f.A, f.B, f.Level, f.Weight)
		}
		if fn := e.FullName; fn != nil {
			say(w, "    %-14s %-57q %-22s %6.2f\n", "fullName", fn.Name, "common", fn.Weight)
		}
	}
	fp, fn := 0, 0
	for _, e := range edges {
		if clusters[e.A] == clusters[e.B] && truth[e.A] != truth[e.B] && fp < n {
			explain("WRONGLY MERGED", e.A, e.B)
			fp++
		}
		if clusters[e.A] != clusters[e.B] && truth[e.A] == truth[e.B] && fn < n {
			explain("MISSED", e.A, e.B)
			fn++
		}
	}
}

// evalHeader is the header of the table that --row lines form.
const evalHeader = "data set                 records  pairs      P       R       F1      best F1  best p     seconds  peak MiB"

// printRow prints the evaluation as a line of the --row table.
func printRow(w io.Writer, name string, r *evalReport) error {
	_, err := fmt.Fprintf(w, "%-22s %9d %9d  %.4f  %.4f  %.4f  %.4f   %-9.4g %7.2f  %8.1f\n",
		name, r.Records, r.CandidatePairs, r.Precision, r.Recall, r.F1, r.BestF1, r.BestThreshold, r.Seconds, r.PeakMiB)
	return err
}
