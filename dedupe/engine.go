package dedupe

import (
	"context"
	_ "embed"
	"fmt"
	"sync"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/matcher"
	"github.com/contactd/contactd/merge"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// defaultModel was trained (unsupervised) on the crm_contacts data set with the built-in
// contact settings; it scores until `contactd train` stores a model trained on the live data.
//
//go:embed default_model.json
var defaultModel []byte

// MaxBlock is the largest block (contacts sharing one key) a single contact's check looks at.
const MaxBlock = 200

// Contacts is what the engine reads of the contacts (package contact's Store): their values
// and alternates.
type Contacts interface {
	MatchContacts(ctx context.Context, ids []uuid.UUID) ([]contact.MatchContact, error)
	ScanActive(ctx context.Context, pageSize int, fn func([]contact.MatchContact) error) error
	ContactIDsBetween(ctx context.Context, from, to uuid.UUID) ([]uuid.UUID, error)
	MergedMembers(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID][]*contact.Contact, error)
	CountActive(ctx context.Context) (int, error)
}

// Merger merges what the engine is sure of (package merge's Store): one group on write, many
// disjoint clusters at once in scans and batch checks, and the pair of a review item a person
// answered inside the transaction that locks the item.
type Merger interface {
	Merge(ctx context.Context, req merge.Request) (*merge.Merge, error)
	MergeClusters(ctx context.Context, reqs []merge.Request) ([]*merge.Merge, map[int]error, error)
	// MergeTx merges inside tx and returns the merge or the request's error, having written
	// nothing for a request it refuses.
	MergeTx(ctx context.Context, tx pgx.Tx, req merge.Request) (*merge.Merge, error)
}

// Engine checks contacts for duplicates. It is safe for concurrent use.
type Engine struct {
	// Store keeps the engine's reviews, runs and models.
	Store *Store
	// Contacts are the contacts it reads.
	Contacts Contacts
	// Merger merges sure groups; nil only proposes reviews (nothing is merged).
	Merger Merger

	mu        sync.Mutex
	model     *matcher.Model
	version   int // 0: the built-in default
	checkedAt time.Time
}

// Model returns the newest model and its version (0 for the built-in default), checking the
// database for a newer version at most every few seconds.
func (e *Engine) Model(ctx context.Context) (*matcher.Model, int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.model != nil && time.Since(e.checkedAt) < 5*time.Second {
		return e.model, e.version, nil
	}
	latest, err := e.Store.LatestModelVersion(ctx)
	if err != nil {
		return nil, 0, err
	}
	e.checkedAt = time.Now()
	if e.model != nil && latest == e.version {
		return e.model, e.version, nil
	}
	data := defaultModel
	if latest > 0 {
		v, stored, err := e.Store.LatestModel(ctx)
		if err != nil {
			return nil, 0, err
		}
		latest, data = v, stored
	}
	md, err := matcher.LoadModel(data)
	if err != nil {
		return nil, 0, fmt.Errorf("dedupe: load model %d: %w", latest, err)
	}
	e.model, e.version = md, latest
	return md, latest, nil
}

// versionPtr is the model version to record (nil for the built-in default).
func versionPtr(v int) *int {
	if v == 0 {
		return nil
	}
	return &v
}

// prepared is a contact's records prepared for one model.
type prepared struct {
	c    contact.MatchContact
	recs []*matcher.Prepared
	// members are the own records (without alternates) of the contact and of the contacts
	// merged into it: the cluster it stands for, which a check must keep free of conflicts as
	// a scan's clustering does.
	members []*matcher.Prepared
}

func prepare(md *matcher.Model, c contact.MatchContact) prepared {
	m := md.Matcher()
	p := prepared{c: c}
	for _, r := range MatchRecords(c.Contact, c.Alternates) {
		p.recs = append(p.recs, m.Prepare(r))
	}
	p.members = p.recs[:1:1]
	return p
}

// withMembers adds to each contact's members the contacts merged into it.
func (e *Engine) withMembers(ctx context.Context, md *matcher.Model, ps []prepared) error {
	ids := make([]uuid.UUID, len(ps))
	for i, p := range ps {
		ids[i] = p.c.ID
	}
	merged, err := e.Contacts.MergedMembers(ctx, ids)
	if err != nil {
		return err
	}
	m := md.Matcher()
	for i := range ps {
		for _, c := range merged[ps[i].c.ID] {
			ps[i].members = append(ps[i].members, m.Prepare(MatchRecord(c)))
		}
	}
	return nil
}

// maxConflictChecks bounds the members of each side that clustersConflict compares, as the
// scan's clustering does.
const maxConflictChecks = 48

// clustersConflict reports whether two clusters of records may not be merged: one pair across
// them clearly differs (scores below conflict). Two single records are joined by their own
// score, so they never conflict. It is the scan's rule (matcher.Model.Cluster) for a check.
func clustersConflict(md *matcher.Model, a, b []*matcher.Prepared, conflict float64) bool {
	if len(a) == 1 && len(b) == 1 {
		return false
	}
	for _, x := range a[:min(len(a), maxConflictChecks)] {
		for _, y := range b[:min(len(b), maxConflictChecks)] {
			if md.Score(x, y) < conflict {
				return true
			}
		}
	}
	return false
}

// best scores two contacts as the best pair of their records (a contact's alternates each make
// a record) and returns the weight and the records that gave it.
func best(md *matcher.Model, a, b prepared) (float64, *matcher.Prepared, *matcher.Prepared) {
	bw := -1e18
	var ba, bb *matcher.Prepared
	for _, ra := range a.recs {
		for _, rb := range b.recs {
			if w := md.Score(ra, rb); w > bw {
				bw, ba, bb = w, ra, rb
			}
		}
	}
	return bw, ba, bb
}

// Match is a likely duplicate of a record.
type Match struct {
	ContactID   uuid.UUID
	Weight      float64
	Probability float64
	Decision    matcher.Decision
	Explanation matcher.Explanation
}

// CheckRecord scores a record that is not stored (POST /api/contacts?dedupe=check) against the
// active contacts sharing a blocking key with it, best first, leaving out the ones the model
// calls different.
func (e *Engine) CheckRecord(ctx context.Context, c *contact.Contact) ([]Match, error) {
	md, _, err := e.Model(ctx)
	if err != nil {
		return nil, err
	}
	keys := BlockingKeys(c, nil)
	ids, _, err := e.Store.CandidatesByKeys(ctx, keys, MaxBlock)
	if err != nil {
		return nil, err
	}
	cands, err := e.Contacts.MatchContacts(ctx, ids)
	if err != nil {
		return nil, err
	}
	self := prepare(md, contact.MatchContact{Contact: c})
	var out []Match
	for _, cand := range cands {
		if cand.Status != contact.StatusActive {
			continue
		}
		w, ra, rb := best(md, self, prepare(md, cand))
		d := md.Decide(w)
		if d == matcher.Different {
			continue
		}
		out = append(out, Match{ContactID: cand.ID, Weight: w, Probability: matcher.Probability(w), Decision: d, Explanation: md.Explain(ra, rb)})
	}
	sortMatches(out)
	return out, nil
}

func sortMatches(ms []Match) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].Weight > ms[j-1].Weight; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// Rekey recomputes the blocking keys of the contacts (an import batch's, which the import wrote
// without keys) in one transaction.
func (e *Engine) Rekey(ctx context.Context, ids []uuid.UUID) error {
	cs, err := e.Contacts.MatchContacts(ctx, ids)
	if err != nil {
		return err
	}
	return e.Store.RekeyContacts(ctx, cs)
}
