package syncengine

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/contactd/contactd/sync/source"
)

// Record is one remote record as a connector gives it.
type Record struct {
	// RemoteID identifies the record in its source.
	RemoteID string
	// ETag and Updated are the remote's version and last-change time (RFC 3339), when it has
	// them; newest-wins compares Updated with the contact's last change.
	ETag, Updated string
	// Values are the record's contact fields by name (contact.Fields), mapped by the connector.
	Values map[string]string
	// Deleted says the record is gone remotely: its contact is archived.
	Deleted bool
	// Stub says only RemoteID and ETag are known (a CardDAV listing): the engine fetches the
	// record (Connector.Fetch) unless its link already has that ETag.
	Stub bool
	// Emails and Phones are the record's further addresses and numbers after Values' email and
	// phone (the contact's alternates); Tags are its categories (the contact's tags). nil means
	// the source does not carry them, and the contact's are left alone.
	Emails, Phones, Tags []string
	// Raw is the remote document as received (a vCard). The engine keeps it with the link and
	// hands it back in Write.Raw, so that a connector writes back untouched what contactd does
	// not model.
	Raw []byte
	// Note is a problem with the record that does not stop the run (a card without a UID, or
	// with another card's UID), reported on the run's errors. A record with a Note and no
	// Values (a card that does not parse) is only reported: it counts as listed (seen), and
	// its link, if any, is left as it was.
	Note string
}

// Page is one page of changes.
type Page struct {
	Records []Record
	// Checkpoint is the connector's position after the page; the engine stores it with the
	// page's records and gives it back for the next page (or the next run).
	Checkpoint json.RawMessage
	// More says there are further pages now.
	More bool
	// Listing says the pages of a sync started without a checkpoint list every record the
	// remote has (a CardDAV listing): at the end of such a run, the engine treats the linked
	// records no page listed as deleted remotely (mark and sweep). A connector whose pages only
	// carry changes (an HTTP API with explicit deletes) leaves it false.
	Listing bool
	// Restart says the connector dropped the checkpoint it was given (a refused sync token)
	// and this page starts a full listing: with Listing, the run sweeps as a full sync does.
	Restart bool
	// Requests counts the HTTP requests the page took (retries included).
	Requests int
	// Notes are problems that did not stop the page (a refused sync token), reported on the
	// run's errors.
	Notes []source.RunError
}

// Write is one record to write remotely, with a precondition.
type Write struct {
	RemoteID string // "" creates a record
	// Key is, on a create, a stable key of the record to create (the contact's id): a create
	// retried after a crash must land on the same remote record (a CardDAV href derived from
	// it with If-None-Match: *), never make a second one.
	Key     string
	IfMatch string // the ETag the remote must still have ("" for none)
	Values  map[string]string
	// Emails, Phones and Tags are as in Record.
	Emails, Phones, Tags []string
	// Raw is the record as last synced (Record.Raw), nil when creating.
	Raw    []byte
	Delete bool
}

// WriteResult is what happened to one Write.
type WriteResult struct {
	RemoteID, ETag string
	// Conflict says the precondition failed: the remote record changed since (If-Match), or
	// a record with Key exists already (a create; RemoteID names it when known).
	Conflict bool
	Err      error
}

// ErrNotSupported is returned by a connector for an operation it does not offer (pushing to an
// HTTP source).
var ErrNotSupported = errors.New("syncengine: not supported by this connector")

// Connector is what the engine needs of a remote system. HTTP sources and CardDAV
// address books implement it.
type Connector interface {
	// Changes returns the page of changes after checkpoint (nil: from the beginning, a full
	// sync). It may return records already seen (an overlap window): the engine skips records
	// whose content did not change.
	Changes(ctx context.Context, checkpoint json.RawMessage) (*Page, error)
	// Fetch returns the full records of stubs (by remote id) and the requests it took.
	Fetch(ctx context.Context, remoteIDs []string) ([]Record, int, error)
	// Write writes records remotely with their preconditions (push) and returns one result per
	// write, in order: a record's failure is its result's Err (reported on the run), an error
	// fails the push (the run; the next run tries again).
	Write(ctx context.Context, ws []Write) ([]WriteResult, error)
}

// NewConnector builds a source's connector from its public config and its secrets.
type NewConnector func(src *source.Source, secrets map[string]string) (Connector, error)
