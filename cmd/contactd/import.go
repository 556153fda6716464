package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/contactfile"
	"github.com/contactd/contactd/importer"
	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
)

func runImport(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("import", stdout)
	path := fs.String("file", "", "the file to import (CSV, NDJSON or vCard)")
	format := fs.String("format", "", "csv, ndjson or vcard (default: detected)")
	source := fs.String("source", "", "the source the rows come from (default: the file's name)")
	mapping := fs.String("mapping", "", `column mapping "Column=field,..." (fields: firstName, lastName, email, phone, title, company, externalId, "-" to drop)`)
	mode := fs.String("mode", "skip", "for rows already imported from this source: skip, fill (empty fields) or overwrite")
	region := fs.String("region", cfg.DefaultRegion, "phone region for numbers without a country code")
	batch := fs.Int("batch-size", importer.DefaultBatchSize, "records committed together")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		return errors.New("import: --file is required")
	}
	if err := checkRegion(strings.ToUpper(*region)); err != nil {
		return fmt.Errorf("import: --region: %w", err)
	}
	m, err := contactfile.ParseMapping(*mapping)
	if err != nil {
		return fmt.Errorf("import: --mapping: %w", err)
	}
	sum, size, err := hashFile(*path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	f, err := os.Open(*path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close() //nolint:errcheck // read only: a read error is reported where it happens
	fmtName := *format
	if fmtName == "" {
		head := make([]byte, 512)
		// A file shorter than head is fine (EOF); a read that fails is not.
		n, err := io.ReadFull(f, head)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("import: %w", err)
		}
		detected, err := contactfile.DetectFormat(*path, "", head[:n])
		if err != nil {
			return fmt.Errorf("import: %w (name it with --format)", err)
		}
		fmtName = string(detected)
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	} else if parsed, err := contactfile.ParseFormat(fmtName); err != nil {
		return fmt.Errorf("import: --format: %w", err)
	} else {
		fmtName = string(parsed)
	}
	src := *source
	if src == "" {
		src = filepath.Base(*path)
	}

	a, closeFn, err := openApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeFn()
	ctx = contact.WithActor(ctx, "cli:"+cmp.Or(os.Getenv("USER"), "unknown"))
	im, err := a.Imports.FindResumableImport(ctx, src, sum)
	if err != nil {
		return err
	}
	if im != nil {
		say(stdout, "resuming import %s of %s at record %d\n", im.ID, *path, im.NextRow)
	} else {
		im, err = a.Imports.CreateImport(ctx, importer.NewImport{
			Source: src, Format: fmtName, FileName: filepath.Base(*path), FileSHA256: sum, FileSize: size,
			Mode: importer.ImportMode(*mode), DefaultRegion: strings.ToUpper(*region), Mapping: m,
		}, nil)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		say(stdout, "import %s of %s (%s, %d bytes) from source %q\n", im.ID, *path, fmtName, size, src)
	}

	counted := &countingReader{r: f}
	progress := newProgress(stdout, size, counted)
	runner := &importer.Runner{Store: a.Imports, BatchSize: *batch, Progress: func(cur *importer.Import, _ importer.ImportBatchResult) {
		progress.update(cur)
	}}
	start := time.Now()
	done, err := runner.Run(ctx, im.ID, counted)
	progress.finish()
	if err != nil {
		return fmt.Errorf("import %s stopped (run the same command again to resume): %w", im.ID, err)
	}
	return printImportSummary(ctx, stdout, a.Imports, done, time.Since(start))
}

func printImportSummary(ctx context.Context, w io.Writer, store *importer.Store, im *importer.Import, took time.Duration) error {
	say(w, "import %s %s: %d records (%d created, %d updated, %d skipped, %d failed) in %s, %.0f records/s\n",
		im.ID, im.Status, im.NextRow, im.Created, im.Updated, im.Skipped, im.Failed, took.Round(time.Millisecond), im.RowsPerSecond(time.Now()))
	if len(im.UnmappedColumns) > 0 {
		say(w, "unmapped columns (kept as extra data): %s\n", strings.Join(im.UnmappedColumns, ", "))
	}
	if im.Failed > 0 {
		errs, more, err := store.ImportErrors(ctx, im.ID, -1, 20)
		if err != nil {
			return err
		}
		say(w, "rows not imported:\n")
		for _, e := range errs {
			field := e.Field
			if field == "" {
				field = "-"
			}
			say(w, "  line %d: %s: %s\n", e.Line, field, e.Message)
		}
		if more {
			say(w, "  ... all of them: GET /api/imports/%s\n", im.ID)
		}
	}
	if im.Status == importer.ImportFailed {
		return fmt.Errorf("import failed: %s", derefStr(im.Error))
	}
	return nil
}

func derefStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close() //nolint:errcheck // read only: a read error is reported by io.Copy
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// progress shows an import's progress: a live bar on a terminal, plain lines otherwise.
type progress struct {
	w     io.Writer
	size  int64
	read  *countingReader
	bar   *progressbar.ProgressBar
	last  time.Time
	start time.Time
}

func newProgress(w io.Writer, size int64, read *countingReader) *progress {
	p := &progress{w: w, size: size, read: read, start: time.Now()}
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		p.bar = progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(w), progressbar.OptionShowBytes(true), progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionSetDescription("importing"))
	}
	return p
}

func (p *progress) update(im *importer.Import) {
	read := p.read.n.Load()
	rate := im.RowsPerSecond(time.Now())
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%d rows, %.0f rows/s", im.NextRow, rate))
		_ = p.bar.Set64(read) // a bar that cannot draw is no reason to stop the import (see say)
		return
	}
	if time.Since(p.last) < 2*time.Second {
		return
	}
	p.last = time.Now()
	eta := "?"
	if read > 0 && p.size > 0 {
		elapsed := time.Since(p.start)
		eta = time.Duration(float64(elapsed) * float64(p.size-read) / float64(read)).Round(time.Second).String()
	}
	say(p.w, "progress: %d rows, %.1f%% of the file, %.0f rows/s, ETA %s\n", im.NextRow, 100*float64(read)/float64(max(p.size, 1)), rate, eta)
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish() // as update's Set64
		say(p.w, "\n")
	}
}
