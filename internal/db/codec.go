package db

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// AfterConnect prepares a new connection for the store: pass it as the pool's AfterConnect
// (pgxpool.Config.AfterConnect). The store works without it, only slower.
//
// pgx does not know google/uuid's UUID, which it meets as a driver.Valuer: it renders each id
// as a string, fails to encode that string as a binary uuid, builds the error, parses the string
// back and encodes the result. That is a few microseconds and allocations per id, and the bulk
// paths (an import's COPY of a million rows, a scan's merges of arrays of thousands of ids) pass
// millions of ids. Registered here, ids are copied as their 16 bytes.
func AfterConnect(_ context.Context, conn *pgx.Conn) error {
	RegisterTypes(conn.TypeMap())
	return nil
}

// RegisterTypes registers the codecs of AfterConnect on a type map.
func RegisterTypes(m *pgtype.Map) {
	t := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}}
	m.RegisterType(t)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: t}})
}

// uuidCodec is pgx's uuid codec taught google/uuid's UUID (and pointers to it) directly.
type uuidCodec struct{ pgtype.UUIDCodec }

func (c uuidCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	switch value.(type) {
	case uuid.UUID:
		return encodeUUID{format: format}
	case *uuid.UUID:
		return encodeUUIDPtr{format: format}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

func (c uuidCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok {
		return scanUUID{format: format}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

type encodeUUID struct{ format int16 }

func (p encodeUUID) Encode(value any, buf []byte) ([]byte, error) {
	return appendUUID(buf, value.(uuid.UUID), p.format), nil
}

type encodeUUIDPtr struct{ format int16 }

func (p encodeUUIDPtr) Encode(value any, buf []byte) ([]byte, error) {
	id := value.(*uuid.UUID)
	if id == nil {
		return nil, nil // NULL
	}
	return appendUUID(buf, *id, p.format), nil
}

func appendUUID(buf []byte, id uuid.UUID, format int16) []byte {
	if format == pgtype.BinaryFormatCode {
		return append(buf, id[:]...)
	}
	return append(buf, id.String()...)
}

type scanUUID struct{ format int16 }

func (p scanUUID) Scan(src []byte, dst any) error {
	id := dst.(*uuid.UUID)
	if src == nil {
		return fmt.Errorf("cannot scan NULL into *uuid.UUID")
	}
	if p.format == pgtype.BinaryFormatCode {
		if len(src) != 16 {
			return fmt.Errorf("invalid length for uuid: %d", len(src))
		}
		copy(id[:], src)
		return nil
	}
	parsed, err := uuid.ParseBytes(src)
	if err != nil {
		return err
	}
	*id = parsed
	return nil
}
