package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/contactd/contactd/contactfile"
	"github.com/google/uuid"
)

// DefaultBatchSize is how many file records commit together.
const DefaultBatchSize = 20000

// Runner runs imports against a store.
type Runner struct {
	Store *Store
	// BatchSize is how many records commit together (default DefaultBatchSize).
	BatchSize int
	// Progress, when set, is called after each committed batch with the import's state.
	Progress func(im *Import, batch ImportBatchResult)
	// AfterBatch, when set, is called after each committed batch with the contacts it created
	// or changed (follow-up work such as deduplication hooks in here).
	AfterBatch func(ctx context.Context, im *Import, ids []uuid.UUID) error
}

// Run runs (or resumes) import id, reading the import's file from file from its start: records
// the import already committed are skipped. It returns the import as it ended. A malformed
// file ends the import failed with the line where it broke, keeping the batches before it.
// Errors are returned only for problems that a retry may cure (the database, cancellation).
func (r *Runner) Run(ctx context.Context, id uuid.UUID, file io.Reader) (*Import, error) {
	im, err := r.Store.StartImport(ctx, id)
	if err != nil {
		return nil, err
	}
	if im.Status != ImportRunning {
		return im, nil
	}
	rd, err := contactfile.NewReader(file, contactfile.Options{Format: contactfile.Format(im.Format), FileName: deref(im.FileName), Mapping: im.Mapping})
	if err != nil {
		return r.Store.FinishImport(ctx, id, ImportFailed, fileProblem(err))
	}
	if err := rd.Skip(int(im.NextRow)); err != nil && !errors.Is(err, io.EOF) {
		return r.fail(ctx, id, err)
	}
	size := r.BatchSize
	if size <= 0 {
		size = DefaultBatchSize
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan produced, 1)
	go produce(ctx, rd, im, size, batches)

	for p := range batches {
		if p.batch != nil && p.batch.NextRow > p.batch.FirstRow {
			res, err := r.Store.CommitImportBatch(ctx, id, p.batch)
			if err != nil {
				return nil, err
			}
			if res.Cancelled {
				return r.Store.GetImport(ctx, id)
			}
			if r.AfterBatch != nil {
				if err := r.AfterBatch(ctx, im, res.ContactIDs); err != nil {
					return nil, err
				}
			}
			if r.Progress != nil {
				if cur, err := r.Store.GetImport(ctx, id); err == nil {
					r.Progress(cur, res)
				}
			}
		}
		if p.err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return r.fail(ctx, id, p.err)
		}
	}
	return r.Store.FinishImport(ctx, id, ImportSucceeded, "")
}

func (r *Runner) fail(ctx context.Context, id uuid.UUID, err error) (*Import, error) {
	var fe *contactfile.FileError
	if !errors.As(err, &fe) && !errors.Is(err, contactfile.ErrUnknownFormat) {
		// Not the file's fault (a read of the upload failed): let a retry resume.
		return nil, err
	}
	return r.Store.FinishImport(ctx, id, ImportFailed, fileProblem(err))
}

func fileProblem(err error) string {
	var fe *contactfile.FileError
	if errors.As(err, &fe) {
		return fmt.Sprintf("the file is malformed at line %d: %v", fe.Line, fe.Err)
	}
	return err.Error()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// produced is a prepared batch, or the error that ended reading (after the batch, if any).
type produced struct {
	batch *ImportBatch
	err   error
}

// produce reads records into batches and prepares each batch on every core while the previous
// batch is being written, so normalization overlaps the database's work.
func produce(ctx context.Context, rd *contactfile.Reader, im *Import, size int, out chan<- produced) {
	defer close(out)
	first := true
	for {
		b := &ImportBatch{FirstRow: int64(rd.Offset())}
		if first {
			b.UnmappedColumns = rd.Mapping().Unmapped()
			if b.UnmappedColumns == nil {
				b.UnmappedColumns = []string{}
			}
			first = false
		}
		inputs := make([]contactfile.Row, 0, size)
		var readErr error
		for len(inputs)+len(b.Errors) < size {
			row, err := rd.Next()
			if errors.Is(err, io.EOF) {
				readErr = io.EOF
				break
			}
			var rowErr *contactfile.RowError
			if errors.As(err, &rowErr) {
				b.Errors = append(b.Errors, ImportRowError{Index: int64(row.Index), Line: rowErr.Line, Field: rowErr.Field, Message: rowErr.Message})
				continue
			}
			if err != nil {
				readErr = err
				break
			}
			inputs = append(inputs, row)
		}
		b.NextRow = int64(rd.Offset())
		prepare(b, inputs, im.DefaultRegion)
		p := produced{batch: b}
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			p.err = readErr
		}
		select {
		case out <- p:
		case <-ctx.Done():
			return
		}
		if readErr != nil {
			return
		}
	}
}

// prepare validates and normalizes the inputs on every core, keeping file order.
func prepare(b *ImportBatch, inputs []contactfile.Row, region string) {
	workers := runtime.GOMAXPROCS(0)
	rows := make([]ImportRow, len(inputs))
	errs := make([][]ImportRowError, len(inputs))
	var wg sync.WaitGroup
	chunk := (len(inputs) + workers - 1) / workers
	for w := 0; w < workers && w*chunk < len(inputs); w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(inputs))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				rows[i], errs[i] = PrepareImportRow(&inputs[i], region)
			}
		})
	}
	wg.Wait()
	b.Rows = make([]ImportRow, 0, len(inputs))
	for i := range inputs {
		if errs[i] != nil {
			b.Errors = append(b.Errors, errs[i]...)
			continue
		}
		b.Rows = append(b.Rows, rows[i])
	}
}
