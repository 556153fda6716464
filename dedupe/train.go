package dedupe

import (
	"context"
	"fmt"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/matcher"
)

// Train estimates a new model on the active contacts and stores it as the newest version, with
// the reason "requested".
func (e *Engine) Train(ctx context.Context) (int, error) {
	return e.train(ctx, "requested")
}

// train estimates a new model on the active contacts and stores it as the newest version with
// the reason for it and the profile of the contacts it was trained on (see Drift).
func (e *Engine) train(ctx context.Context, reason string) (int, error) {
	m := Matcher()
	var recs []*matcher.Prepared
	err := e.Contacts.ScanActive(ctx, 10000, func(page []contact.MatchContact) error {
		for _, c := range page {
			recs = append(recs, m.Prepare(MatchRecord(c.Contact)))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if len(recs) < MinTrain {
		return 0, &db.Error{Kind: db.KindInvalid, Message: fmt.Sprintf("training needs at least %d active contacts (have %d)", MinTrain, len(recs))}
	}
	start := time.Now()
	md, err := m.Train(ctx, recs)
	if err != nil {
		return 0, fmt.Errorf("dedupe: train: %w", err)
	}
	data, err := md.MarshalJSON()
	if err != nil {
		return 0, err
	}
	var counts []int64
	for _, r := range recs {
		counts = md.Profile(r, counts)
	}
	profile := Profile{Rows: int64(len(recs)), Names: md.ProfileNames(), Counts: counts}
	v, err := e.Store.SaveModel(ctx, data, map[string]any{"contacts": len(recs), "seconds": time.Since(start).Seconds(),
		"reason": reason, "profile": profile})
	if err != nil {
		return 0, err
	}
	e.mu.Lock()
	e.checkedAt = time.Time{}
	e.mu.Unlock()
	return v, nil
}
