// Command evaldb measures duplicate detection end to end over the database, as a user would run
// it: `contactd import` of a labelled CSV into a fresh database, `contactd dedupe --wait`, then
// `contactd export`; the exported contacts (each with the externalIds of every record merged
// into it) are the clusters, scored pairwise against the truth. It prints precision, recall,
// F1, the review queue's size and each step's time.
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	flag.Parse()
	if err := run(context.Background(), *data, *truthFile, *truthCol, *bin, *db, *train); err != nil {
		fmt.Fprintln(os.Stderr, "evaldb:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, data, truthFile, truthCol, bin, db string, train bool) error {
	server := cmp.Or(os.Getenv("DATABASE_URL"), "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
		return err
	}
	admin.Close(ctx)
	cfg, _ := pgx.ParseConfig(server)
	url := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, db)

	truth, err := readTruth(data, truthFile, truthCol)
	if err != nil {
		return err
	}
	fmt.Printf("data: %s (%d labelled records)\n", data, len(truth))
	t, _, err := step(bin, url, "import", "--file", data, "--source", "eval")
	if err != nil {
		return err
	}
	fmt.Printf("import:  %7.2fs\n", t.Seconds())
	if train {
		t, _, err = step(bin, url, "train")
		if err != nil {
			return err
		}
		fmt.Printf("train:   %7.2fs (a model of these contacts, unsupervised)\n", t.Seconds())
	}
	t, out, err := step(bin, url, "dedupe", "--wait")
	if err != nil {
		return err
	}
	fmt.Printf("dedupe:  %7.2fs (full scan)\n", t.Seconds())
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "open review items") {
			fmt.Println("         " + strings.TrimSpace(l))
		}
	}
	exported := filepath.Join(os.TempDir(), db+"-export.csv")
	t, _, err = step(bin, url, "export", "--format", "csv", "--out", exported)
	if err != nil {
		return err
	}
	fmt.Printf("export:  %7.2fs\n", t.Seconds())
	clusters, err := readClusters(exported)
	if err != nil {
		return err
	}
	p, r, f1, tp, fp, fn := score(clusters, truth)
	fmt.Printf("pairs: %d true positive, %d false positive, %d false negative\n", tp, fp, fn)
	fmt.Printf("precision %.4f  recall %.4f  F1 %.4f  (%d exported contacts)\n", p, r, f1, len(clusters))
	return nil
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
