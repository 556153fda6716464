package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/contactfile"
	"github.com/contactd/contactd/importer"
)

func runExport(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", stderr)
	format := fs.String("format", "csv", "csv, ndjson or vcf")
	out := fs.String("out", "", "the file to write (default: standard output)")
	company := fs.String("company", "", "only contacts of this company (case-insensitive)")
	role := fs.String("role", "", "only contacts with a current relationship of this role or type")
	account := fs.String("account", "", "only contacts related to this account id")
	status := fs.String("status", "active", "active, archived, merged or all")
	filter := fs.String("filter", "", "more filters as the list endpoint's query string (tag=vip&hasEmail=true&q=...)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ff, err := contactfile.ParseFormat(*format)
	if err != nil {
		return fmt.Errorf("export: --format: %w", err)
	}
	q, err := url.ParseQuery(*filter)
	if err != nil {
		return fmt.Errorf("export: --filter: %w", err)
	}
	if unknown := contact.UnknownParams(q); len(unknown) > 0 {
		return fmt.Errorf("export: --filter: unknown filters %s", strings.Join(unknown, ", "))
	}
	for name, v := range map[string]string{"company": *company, "role": *role, "account": *account, "status": *status} {
		if v != "" {
			q.Set(name, v)
		}
	}
	f, ferrs := contact.ParseFilter(q)
	if len(ferrs) > 0 {
		return fmt.Errorf("export: %s %s", ferrs[0].Field, ferrs[0].Message)
	}
	a, closeFn, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeFn()
	if err := a.Groups.Resolve(ctx, &f); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	w := stdout
	var file *os.File
	var bw *bufio.Writer
	if *out != "" {
		if file, err = os.Create(*out); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer file.Close() //nolint:errcheck // closed and checked below; this is for the error paths
		bw = bufio.NewWriterSize(file, 1<<20)
		w = bw
	}
	start := time.Now()
	n, err := importer.Export(ctx, a.Contacts, f, ff, w)
	if err != nil {
		return fmt.Errorf("export: after %d contacts: %w", n, err)
	}
	// The file's end is written by the flush and made safe by the close: either failing (a full
	// disk) leaves a truncated file that must not pass for an export.
	if bw != nil {
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("export: %s: %w", *out, err)
		}
		if err := file.Close(); err != nil {
			return fmt.Errorf("export: %s: %w", *out, err)
		}
	}
	took := time.Since(start)
	say(stderr, "exported %d contacts in %s (%.0f rows/s)\n", n, took.Round(time.Millisecond), float64(n)/max(took.Seconds(), 1e-9))
	return nil
}
