// Command evaldb measures duplicate detection end to end over the database, as a user would run
// it, on two paths. The scan path: `contactd import` of a labelled CSV into a fresh database,
// `contactd dedupe --wait`, then `contactd export`. The live path (-path live): the same import
// while a `contactd serve` works the duplicate checks each batch enqueues, timed until no
// duplicate check is left, then the export. The exported contacts (each with the externalIds of
// every record merged into it) are the clusters, scored pairwise against the truth. It prints
// precision, recall, F1, the review queue's size and each step's time.
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

func main() {
	data := flag.String("data", "../shared/datasets/crm_contacts/contacts.csv", "CSV with externalId and the contact columns")
	truthFile := flag.String("truth-file", "../shared/datasets/crm_contacts/truth.csv", "CSV externalId,entity (or empty to read --truth from the data)")
	truthCol := flag.String("truth", "entity", "the truth column of --data when --truth-file is empty")
	bin := flag.String("bin", "bin/contactd", "the contactd binary")
	db := flag.String("db", "contactd_evaldb", "the database to (re)create")
	train := flag.Bool("train", false, "run contactd train on the imported contacts before the scan (default: the built-in model)")
	path := flag.String("path", "scan", `"scan" (import, then dedupe --wait), "live" (import into a serving contactd) or "both" (each into its own database, -db with _scan and _live, and the ratio of their times to settle)`)
	flag.Parse()
	ctx := context.Background()
	var err error
	switch *path {
	case "scan", "live":
		_, err = run(ctx, *data, *truthFile, *truthCol, *bin, *db, *train, *path == "live")
	case "both":
		err = both(ctx, *data, *truthFile, *truthCol, *bin, *db, *train)
	default:
		fmt.Fprintln(os.Stderr, `evaldb: -path must be "scan", "live" or "both"`)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "evaldb:", err)
		os.Exit(1)
	}
}

// both measures the scan path, then the live path, and compares their times to settle.
func both(ctx context.Context, data, truthFile, truthCol, bin, db string, train bool) error {
	fmt.Println("== scan path")
	scan, err := run(ctx, data, truthFile, truthCol, bin, db+"_scan", train, false)
	if err != nil {
		return err
	}
	fmt.Println("== live path")
	live, err := run(ctx, data, truthFile, truthCol, bin, db+"_live", train, true)
	if err != nil {
		return err
	}
	fmt.Printf("live settles in %.2fs, %.2f× the import and scan (%.2fs)\n", live.Seconds(), live.Seconds()/scan.Seconds(), scan.Seconds())
	return nil
}

// run measures one path and returns its time to settle.
func run(ctx context.Context, data, truthFile, truthCol, bin, db string, train, live bool) (time.Duration, error) {
	server := cmp.Or(os.Getenv("DATABASE_URL"), "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return 0, err
	}
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
		return 0, err
	}
	admin.Close(ctx)
	cfg, _ := pgx.ParseConfig(server)
	url := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, db)

	truth, err := readTruth(data, truthFile, truthCol)
	if err != nil {
		return 0, err
	}
	fmt.Printf("data: %s (%d labelled records)\n", data, len(truth))
	settle := scanPath
	if live {
		settle = func(bin, url, data string, _ bool) (time.Duration, error) { return settleLive(ctx, bin, url, data) }
	}
	settled, err := settle(bin, url, data, train)
	if err != nil {
		return 0, err
	}
	exported := filepath.Join(os.TempDir(), db+"-export.csv")
	t, _, err := step(bin, url, "export", "--format", "csv", "--out", exported)
	if err != nil {
		return 0, err
	}
	fmt.Printf("export:  %7.2fs\n", t.Seconds())
	clusters, err := readClusters(exported)
	if err != nil {
		return 0, err
	}
	p, r, f1, tp, fp, fn := score(clusters, truth)
	fmt.Printf("pairs: %d true positive, %d false positive, %d false negative\n", tp, fp, fn)
	fmt.Printf("precision %.4f  recall %.4f  F1 %.4f  (%d exported contacts)\n", p, r, f1, len(clusters))
	return settled, nil
}

// scanPath imports the file with no server running, optionally trains, and scans.
func scanPath(bin, url, data string, train bool) (time.Duration, error) {
	t, _, err := step(bin, url, "import", "--file", data, "--source", "eval")
	if err != nil {
		return 0, err
	}
	total := t
	fmt.Printf("import:  %7.2fs\n", t.Seconds())
	if train {
		t, _, err = step(bin, url, "train")
		if err != nil {
			return 0, err
		}
		fmt.Printf("train:   %7.2fs (a model of these contacts, unsupervised)\n", t.Seconds())
		total += t
	}
	t, out, err := step(bin, url, "dedupe", "--wait")
	if err != nil {
		return 0, err
	}
	fmt.Printf("dedupe:  %7.2fs (full scan)\n", t.Seconds())
	fmt.Printf("settled: %7.2fs (import and scan)\n", (total + t).Seconds())
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "open review items") {
			fmt.Println("         " + strings.TrimSpace(l))
		}
	}
	return total + t, nil
}

// settleLive migrates, starts contactd serve, imports the file while it serves and waits until
// every job the import caused (its batch checks, the checks and retraining those enqueue) is
// done; then it stops the server.
func settleLive(ctx context.Context, bin, url, data string) (time.Duration, error) {
	if _, _, err := step(bin, url, "migrate"); err != nil {
		return 0, err
	}
	srv := exec.Command(bin, "serve", "--addr", "127.0.0.1:0")
	srv.Env = append(os.Environ(), "DATABASE_URL="+url, "CONTACTD_LOG_LEVEL=warn")
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = srv.Process.Signal(syscall.SIGTERM) // a server already gone has nothing to stop
		_ = srv.Wait()                          // its exit status after SIGTERM says nothing
	}()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	start := time.Now()
	t, _, err := step(bin, url, "import", "--file", data, "--source", "eval")
	if err != nil {
		return 0, err
	}
	fmt.Printf("import:  %7.2fs (into a serving contactd)\n", t.Seconds())
	for {
		var left int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM river_job
			WHERE state NOT IN ('completed', 'cancelled', 'discarded')
			AND kind IN ('import_file', 'normalize_contact', 'dedupe_batch', 'dedupe_contact', 'train_matcher')`).Scan(&left)
		if err != nil {
			return 0, err
		}
		if left == 0 {
			break
		}
		if srv.ProcessState != nil {
			return 0, errors.New("contactd serve exited:\n" + logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	settled := time.Since(start)
	var reviews int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM duplicate_reviews WHERE status = 'open'`).Scan(&reviews); err != nil {
		return 0, err
	}
	fmt.Printf("settled: %7.2fs (import and every duplicate check it caused)\n", settled.Seconds())
	fmt.Printf("         %d open review items\n", reviews)
	return settled, nil
}

func step(bin, url string, args ...string) (time.Duration, string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+url, "CONTACTD_LOG_LEVEL=warn")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	if err != nil {
		return 0, "", fmt.Errorf("contactd %v: %w\n%s", args, err, out.String())
	}
	return time.Since(start), out.String(), nil
}

// readTruth maps each record's external id to its entity.
func readTruth(data, truthFile, truthCol string) (map[string]string, error) {
	path, idCol, entCol := truthFile, "externalId", "entity"
	if truthFile == "" {
		path, entCol = data, truthCol
	}
	rows, err := readCSV(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r[idCol]] = r[entCol]
	}
	return out, nil
}

// readClusters reads an export: each row's externalIds (source:id) is one cluster.
func readClusters(path string) ([][]string, error) {
	rows, err := readCSV(path)
	if err != nil {
		return nil, err
	}
	var out [][]string
	for _, r := range rows {
		var ids []string
		for _, ref := range strings.Split(r["externalIds"], ";") {
			if src, id, ok := strings.Cut(ref, ":"); ok && src == "eval" {
				ids = append(ids, id)
			}
		}
		out = append(out, ids)
	}
	return out, nil
}

func readCSV(path string) ([]map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		m := make(map[string]string, len(header))
		for i, h := range header {
			m[h] = rec[i]
		}
		out = append(out, m)
	}
}

// score counts record pairs: predicted together (same cluster) against truly together.
func score(clusters [][]string, truth map[string]string) (p, r, f1 float64, tp, fp, fn int64) {
	pairs := func(n int64) int64 { return n * (n - 1) / 2 }
	var predicted int64
	for _, c := range clusters {
		predicted += pairs(int64(len(c)))
		byEntity := map[string]int64{}
		for _, id := range c {
			byEntity[truth[id]]++
		}
		for _, n := range byEntity {
			tp += pairs(n)
		}
	}
	entities := map[string]int64{}
	for _, e := range truth {
		entities[e]++
	}
	var actual int64
	for _, n := range entities {
		actual += pairs(n)
	}
	fp, fn = predicted-tp, actual-tp
	if predicted > 0 {
		p = float64(tp) / float64(predicted)
	}
	if actual > 0 {
		r = float64(tp) / float64(actual)
	}
	if p+r > 0 {
		f1 = 2 * p * r / (p + r)
	}
	return p, r, f1, tp, fp, fn
}
