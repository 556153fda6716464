package importer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/event"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ImportChunkSize is the size of the pieces an uploaded file is stored in.
const ImportChunkSize = 1 << 20

// ErrImportMoved means another runner committed the import's next batch first.
var ErrImportMoved = errors.New("importer: the import was advanced by another runner")

const importColumns = `id, source, format, file_name, file_sha256, file_size, mode, default_region, mapping,
	status, next_row, total_rows, created_count, updated_count, skipped_count, failed_count,
	unmapped_columns, error, cancel_requested, actor, created_at, started_at, finished_at, heartbeat_at`

func scanImport(row pgx.Row) (*Import, error) {
	var im Import
	err := row.Scan(&im.ID, &im.Source, &im.Format, &im.FileName, &im.FileSHA256, &im.FileSize, &im.Mode,
		&im.DefaultRegion, &im.Mapping, &im.Status, &im.NextRow, &im.TotalRows, &im.Created, &im.Updated,
		&im.Skipped, &im.Failed, &im.UnmappedColumns, &im.Error, &im.CancelRequested, &im.Actor,
		&im.CreatedAt, &im.StartedAt, &im.FinishedAt, &im.HeartbeatAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, db.NotFound("import not found")
	}
	if err != nil {
		return nil, fmt.Errorf("importer: read import: %w", err)
	}
	return &im, nil
}

func (in *NewImport) validate() error {
	var errs db.FieldErrors
	in.Source = contact.CleanText(&errs, "source", in.Source, 100)
	if in.Source == "" {
		errs.Add("source", "is required")
	}
	in.FileName = contact.CleanText(&errs, "fileName", in.FileName, 255)
	switch in.Mode {
	case ImportSkip, ImportFill, ImportOverwrite:
	case "":
		in.Mode = ImportSkip
	default:
		errs.Add("mode", "must be skip, fill or overwrite")
	}
	if len(in.Mapping) > 500 {
		errs.Add("mapping", "has too many columns")
	}
	return errs.Err()
}

// CreateImport records a new import. When file is not nil it is stored in the database in
// chunks as it is read (an upload: any worker can then run the import) and an import job is
// enqueued in the same transaction; with a nil file the caller runs the import itself from its
// own copy of the file (the command line).
func (s *Store) CreateImport(ctx context.Context, in NewImport, file io.Reader) (*Import, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	if in.Mapping == nil {
		in.Mapping = map[string]string{}
	}
	id := uuid.Must(uuid.NewV7())
	var out *Import
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO imports (id, source, format, file_name, file_sha256, file_size, mode,
			default_region, mapping, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			id, in.Source, in.Format, contact.Nullable(in.FileName), in.FileSHA256, in.FileSize, in.Mode,
			in.DefaultRegion, in.Mapping, contact.ActorFrom(ctx))
		if err != nil {
			return fmt.Errorf("importer: insert import: %w", err)
		}
		if file != nil {
			h := sha256.New()
			size, err := storeChunks(ctx, tx, id, io.TeeReader(file, h))
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE imports SET file_sha256 = $2, file_size = $3 WHERE id = $1`, id, hex.EncodeToString(h.Sum(nil)), size); err != nil {
				return fmt.Errorf("importer: record upload: %w", err)
			}
			if _, err := s.db.Jobs.InsertTx(ctx, tx, Args{ImportID: id}, nil); err != nil {
				return fmt.Errorf("importer: enqueue import: %w", err)
			}
		}
		out, err = scanImport(tx.QueryRow(ctx, `SELECT `+importColumns+` FROM imports WHERE id = $1`, id))
		if err != nil || out.FinishedAt == nil {
			return err
		}
		return emitFinished(ctx, tx, out)
	})
	return out, err
}

// emitFinished writes the import.finished event of an import that has just ended, in the
// transaction that ends it. The event carries counts, never rows: the contacts an import
// created or changed are contact.created and contact.updated events of their own.
func emitFinished(ctx context.Context, tx pgx.Tx, im *Import) error {
	return event.Emit(ctx, tx, event.ImportFinished, nil, map[string]any{
		"importId": im.ID, "source": im.Source, "status": im.Status, "error": im.Error,
		"created": im.Created, "updated": im.Updated, "skipped": im.Skipped, "failed": im.Failed,
	})
}

// ErrUpload wraps a failure to read an upload (the client's connection, or a body over its
// limit), as opposed to a failure to store it.
var ErrUpload = errors.New("importer: read upload")

func storeChunks(ctx context.Context, tx pgx.Tx, id uuid.UUID, file io.Reader) (int64, error) {
	buf := make([]byte, ImportChunkSize)
	var size int64
	for seq := 0; ; seq++ {
		n, err := io.ReadFull(file, buf)
		if n > 0 {
			size += int64(n)
			if _, err := tx.Exec(ctx, `INSERT INTO import_chunks (import_id, seq, data) VALUES ($1, $2, $3)`, id, seq, buf[:n]); err != nil {
				return 0, fmt.Errorf("importer: store file chunk: %w", err)
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return size, nil
		}
		if err != nil {
			return 0, fmt.Errorf("%w: %w", ErrUpload, err)
		}
	}
}

// OpenImportFile streams an uploaded import file back from its chunks, one chunk in memory at
// a time.
func (s *Store) OpenImportFile(ctx context.Context, id uuid.UUID) io.Reader {
	return &chunkReader{ctx: ctx, s: s, id: id}
}

type chunkReader struct {
	ctx  context.Context
	s    *Store
	id   uuid.UUID
	seq  int
	cur  *bytes.Reader
	done bool
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for {
		if r.cur != nil && r.cur.Len() > 0 {
			return r.cur.Read(p)
		}
		if r.done {
			return 0, io.EOF
		}
		var data []byte
		err := r.s.db.Pool.QueryRow(r.ctx, `SELECT data FROM import_chunks WHERE import_id = $1 AND seq = $2`, r.id, r.seq).Scan(&data)
		if errors.Is(err, pgx.ErrNoRows) {
			r.done = true
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("importer: read import chunk %d: %w", r.seq, err)
		}
		r.seq++
		r.cur = bytes.NewReader(data)
	}
}

// GetImport returns an import.
func (s *Store) GetImport(ctx context.Context, id uuid.UUID) (*Import, error) {
	return scanImport(s.db.Pool.QueryRow(ctx, `SELECT `+importColumns+` FROM imports WHERE id = $1`, id))
}

// ListImports returns a page of imports, newest first, and the next cursor.
func (s *Store) ListImports(ctx context.Context, before *uuid.UUID, limit int) ([]*Import, *uuid.UUID, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+importColumns+` FROM imports
		WHERE $1::uuid IS NULL OR id < $1 ORDER BY id DESC LIMIT $2`, before, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("importer: list imports: %w", err)
	}
	imports, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Import, error) { return scanImport(r) })
	if err != nil {
		return nil, nil, err
	}
	imports, next := db.Page(imports, limit, func(im *Import) uuid.UUID { return im.ID })
	return imports, next, nil
}

// ImportErrors returns a page of an import's row errors in file order after the given record
// index (-1 for the first page), and whether there are more.
func (s *Store) ImportErrors(ctx context.Context, id uuid.UUID, afterRow int64, limit int) ([]ImportRowError, bool, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT row_index, line, coalesce(field, ''), message FROM import_errors
		WHERE import_id = $1 AND row_index > $2 ORDER BY row_index, seq LIMIT $3`, id, afterRow, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("importer: import errors: %w", err)
	}
	errs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ImportRowError])
	if err != nil {
		return nil, false, fmt.Errorf("importer: import errors: %w", err)
	}
	if len(errs) > limit {
		// Keep a record's errors together on one page.
		cut := limit
		for cut > 0 && errs[cut-1].Index == errs[limit].Index {
			cut--
		}
		if cut == 0 {
			cut = limit
		}
		return errs[:cut], true, nil
	}
	return errs, false, nil
}

// CancelImport asks a queued or running import to stop after its current batch; a queued one
// is cancelled at once. Batches already committed stay.
func (s *Store) CancelImport(ctx context.Context, id uuid.UUID) (*Import, error) {
	var out *Import
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		im, err := scanImport(tx.QueryRow(ctx, `SELECT `+importColumns+` FROM imports WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		switch im.Status {
		case ImportQueued:
			_, err = tx.Exec(ctx, `UPDATE imports SET status = 'cancelled', cancel_requested = true, finished_at = now() WHERE id = $1`, id)
		case ImportRunning:
			_, err = tx.Exec(ctx, `UPDATE imports SET cancel_requested = true WHERE id = $1`, id)
		default:
			return &db.Error{Kind: db.KindConflict, Message: fmt.Sprintf("the import has already ended (%s)", im.Status)}
		}
		if err != nil {
			return fmt.Errorf("importer: cancel import: %w", err)
		}
		out, err = scanImport(tx.QueryRow(ctx, `SELECT `+importColumns+` FROM imports WHERE id = $1`, id))
		return err
	})
	return out, err
}

// FindResumableImport returns the newest unfinished import of the same file from the same
// source, or nil.
func (s *Store) FindResumableImport(ctx context.Context, source, sha256 string) (*Import, error) {
	im, err := scanImport(s.db.Pool.QueryRow(ctx, `SELECT `+importColumns+` FROM imports
		WHERE source = $1 AND file_sha256 = $2 AND status IN ('queued', 'running') ORDER BY id DESC LIMIT 1`, source, sha256))
	if db.ErrorKind(err) == db.KindNotFound {
		return nil, nil
	}
	return im, err
}

// StartImport marks an import running (keeping its first start time) and returns it. An import
// that has ended is returned as it is; the caller must not run it.
func (s *Store) StartImport(ctx context.Context, id uuid.UUID) (*Import, error) {
	return scanImport(s.db.Pool.QueryRow(ctx, `
		UPDATE imports SET status = CASE WHEN status IN ('queued', 'running') THEN 'running' ELSE status END,
			started_at = coalesce(started_at, now()), heartbeat_at = now()
		WHERE id = $1 RETURNING `+importColumns, id))
}

// FinishImport ends an import: succeeded (with its total), failed (with the reason) or
// cancelled. An uploaded file's chunks are deleted.
func (s *Store) FinishImport(ctx context.Context, id uuid.UUID, status ImportStatus, reason string) (*Import, error) {
	var out *Import
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = scanImport(tx.QueryRow(ctx, `
			UPDATE imports SET status = $2, error = $3, finished_at = now(), heartbeat_at = now(),
				total_rows = CASE WHEN $2 = 'succeeded' THEN next_row ELSE total_rows END
			WHERE id = $1 RETURNING `+importColumns, id, status, contact.Nullable(reason)))
		if err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `DELETE FROM import_chunks WHERE import_id = $1`, id); err != nil {
			return err
		}
		if out.Status == ImportSucceeded && out.Created+out.Updated >= analyzeAfterRows {
			// A bulk load changes how common names are: search's typo prior is recounted.
			if _, err := s.db.Jobs.InsertTx(ctx, tx, contact.NameCountsArgs{}, nil); err != nil {
				return err
			}
		}
		return emitFinished(ctx, tx, out)
	})
	if err == nil && out.Status == ImportSucceeded && out.Created+out.Updated >= analyzeAfterRows {
		// A bulk load leaves the planner's statistics describing the tables before it, and the
		// set-based statements that follow (the batch's dedupe job, a scan's merges) then pick
		// plans for a table a fraction of its size. Autovacuum would catch up in its own time;
		// this makes it now. Best effort: the import has succeeded either way.
		_, _ = s.db.Pool.Exec(ctx, `ANALYZE contacts, external_refs, audit_log, contact_keys, contact_alternates`)
	}
	return out, err
}
