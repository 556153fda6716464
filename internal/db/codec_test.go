package db_test

import (
	"context"
	"testing"

	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/internal/dbtest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TestUUIDCodec: with the store's codecs registered, ids, pointers to ids (nil is NULL), arrays
// of ids and COPY round-trip through PostgreSQL in binary and in text, and a NULL scans into a
// pointer as nil.
func TestUUIDCodec(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := db.AfterConnect(ctx, conn); err != nil {
		t.Fatal(err)
	}
	a, b := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	var nilID *uuid.UUID

	var gotA uuid.UUID
	var gotNil, gotPtr *uuid.UUID
	var gotText string
	if err := conn.QueryRow(ctx, `SELECT $1::uuid, $2::uuid, $3::uuid, $1::uuid::text`, a, nilID, &b).Scan(&gotA, &gotNil, &gotPtr, &gotText); err != nil {
		t.Fatal(err)
	}
	if gotA != a || gotNil != nil || gotPtr == nil || *gotPtr != b || gotText != a.String() {
		t.Fatalf("got %s %v %v %q", gotA, gotNil, gotPtr, gotText)
	}
	// Text format (the simple protocol) both ways.
	var viaText uuid.UUID
	if err := conn.QueryRow(ctx, `SELECT $1::uuid`, pgx.QueryExecModeSimpleProtocol, a).Scan(&viaText); err != nil || viaText != a {
		t.Fatalf("simple protocol: %s %v", viaText, err)
	}
	var arr []uuid.UUID
	if err := conn.QueryRow(ctx, `SELECT $1::uuid[]`, []uuid.UUID{a, b}).Scan(&arr); err != nil || len(arr) != 2 || arr[0] != a || arr[1] != b {
		t.Fatalf("array: %v %v", arr, err)
	}
	if _, err := conn.Exec(ctx, `CREATE TEMP TABLE ids (id uuid, ref uuid)`); err != nil {
		t.Fatal(err)
	}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"ids"}, []string{"id", "ref"}, pgx.CopyFromRows([][]any{{a, nilID}, {b, &a}}))
	if err != nil || n != 2 {
		t.Fatalf("copy: %d %v", n, err)
	}
	var refs []*uuid.UUID
	rows, _ := conn.Query(ctx, `SELECT ref FROM ids ORDER BY id`)
	refs, err = pgx.CollectRows(rows, pgx.RowTo[*uuid.UUID])
	if err != nil || len(refs) != 2 || refs[0] != nil || refs[1] == nil || *refs[1] != a {
		t.Fatalf("copied refs %v %v", refs, err)
	}
}
