// Command trainmodel trains the built-in contact matcher on a CSV with the spec's column names
// (unsupervised: a truth column, if any, is ignored) and writes the model's JSON. It made
// dedupe/default_model.json from ../shared/datasets/crm_contacts/contacts.csv, the model
// contactd uses until `contactd train` has trained one on the live data.
package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/contactd/contactd/matcher"
)

func main() {
	in := flag.String("data", "", "CSV file with firstName,lastName,email,phone,title,company columns")
	out := flag.String("out", "", "where to write the model (default: standard output)")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "trainmodel:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return err
	}
	m, err := matcher.New(matcher.DefaultSettings())
	if err != nil {
		return err
	}
	var recs []*matcher.Prepared
	for {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		rec := matcher.Record{}
		for i, h := range header {
			rec[h] = row[i]
		}
		recs = append(recs, m.Prepare(rec))
	}
	model, err := m.Train(context.Background(), recs)
	if err != nil {
		return err
	}
	data, err := model.MarshalJSON()
	if err != nil {
		return err
	}
	if out == "" {
		_, err = os.Stdout.Write(data)
		return err
	}
	return os.WriteFile(out, data, 0o644)
}
