package dedupe

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Automatic retraining: the model that scores the checks should describe the contacts it
// checks. The built-in model was trained on other data, and a model trained on a small
// database describes it poorly once it has grown, so an import batch's check and a full scan
// train and store a new model version first when one is due, and check with it. (A
// train_matcher job queued behind an import's batch checks would only run after them.)
const (
	// RetrainFirst is how many active contacts make a database with only the built-in model
	// train its own.
	RetrainFirst = 10_000
	// RetrainRows is how many more active contacts than the newest model was trained on make
	// a retraining due.
	RetrainRows = 10_000
	// RetrainGrowth is the growth, as a share of the contacts the newest model was trained on,
	// that makes a retraining due.
	RetrainGrowth = 0.2
	// MinTrain is the fewest active contacts a model is trained on.
	MinTrain = 100
)

// RetrainDue reports whether a model trained on trainedOn active contacts (0: the built-in
// model) should be retrained now that there are active ones.
func RetrainDue(active, trainedOn int) bool {
	if active < MinTrain {
		return false
	}
	if trainedOn <= 0 {
		return active >= RetrainFirst
	}
	grown := active - trainedOn
	return grown >= RetrainRows || float64(grown) >= RetrainGrowth*float64(trainedOn)
}

// retrainDue counts the active contacts and asks RetrainDue.
func (e *Engine) retrainDue(ctx context.Context) (bool, error) {
	active, err := e.Contacts.CountActive(ctx)
	if err != nil {
		return false, err
	}
	trained, err := e.Store.TrainedOn(ctx)
	if err != nil {
		return false, err
	}
	return RetrainDue(active, trained), nil
}

// TrainedOn returns how many contacts the newest stored model was trained on, 0 when there is
// none (the built-in model is in use) or the newest does not say.
func (s *Store) TrainedOn(ctx context.Context) (int, error) {
	var n int
	err := s.db.Pool.QueryRow(ctx, `SELECT coalesce((stats->>'contacts')::int, 0) FROM matcher_models
		ORDER BY version DESC LIMIT 1`).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("dedupe: trained on: %w", err)
	}
	return n, nil
}

// retrainNowIfDue trains and stores a new model version here, now, when RetrainDue says so,
// and reports whether it did.
func (e *Engine) retrainNowIfDue(ctx context.Context) (bool, error) {
	due, err := e.retrainDue(ctx)
	if !due || err != nil {
		return false, err
	}
	if _, err := e.Train(ctx); err != nil {
		return false, err
	}
	return true, nil
}
