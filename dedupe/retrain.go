package dedupe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

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

// Drift: a model also describes the contacts it was trained on by the shares of its profile
// features (matcher.Model.Profile: which fields are present, which values are among its common
// ones). The batch checks add up the same features over the contacts they check; when enough
// have been checked and one share has moved far from the model's, the data has drifted and a
// retraining is due even though the database has not grown much.
const (
	// DriftMinRows is how many contacts the batch checks must have profiled since the newest
	// model before its drift is measured.
	DriftMinRows = 1_000
	// DriftShift is how far one profile feature's share must move (0.15: from 60% of the
	// contacts to 75%) to make a retraining due.
	DriftShift = 0.15
)

// Profile counts the profile features (matcher.Model.Profile) of Rows contacts.
type Profile struct {
	Rows   int64    `json:"rows"`
	Names  []string `json:"names"`
	Counts []int64  `json:"counts"`
}

// Intake is what the batch checks have taken in since the newest model was trained.
type Intake struct {
	// Rows counts the contacts created since the model that they were asked to check, merged
	// since or not: an import of 10,000 rows counts 10,000 even when half were duplicates.
	Rows int64
	// Profile counts the features of those that were active when checked.
	Profile Profile
}

// Drift returns the profile feature whose share moved most between trained and now, with both
// shares, when it moved by DriftShift or more and now counts DriftMinRows contacts or more; ""
// otherwise (also when the profiles do not name the same features).
func Drift(trained, now *Profile) (feature string, was, is float64) {
	if trained == nil || now == nil || trained.Rows <= 0 || now.Rows < DriftMinRows ||
		!slices.Equal(trained.Names, now.Names) || len(trained.Counts) != len(trained.Names) || len(now.Counts) != len(now.Names) {
		return "", 0, 0
	}
	best := 0.0
	for i, name := range trained.Names {
		a := float64(trained.Counts[i]) / float64(trained.Rows)
		b := float64(now.Counts[i]) / float64(now.Rows)
		if d := math.Abs(b - a); d >= DriftShift && d > best {
			best, feature, was, is = d, name, a, b
		}
	}
	return feature, was, is
}

// RetrainReason says why a model trained on trainedOn active contacts (0: the built-in model)
// with profile trained should be retrained, now that there are active ones and the batch checks
// have taken in intake since; "" when it should not be.
func RetrainReason(active, trainedOn int, trained *Profile, intake Intake) string {
	if active < MinTrain {
		return ""
	}
	grown := active - trainedOn
	switch {
	case trainedOn <= 0 && active >= RetrainFirst:
		return fmt.Sprintf("%d active contacts and only the built-in model", active)
	case trainedOn > 0 && grown >= RetrainRows:
		return fmt.Sprintf("%d more active contacts than the model was trained on", grown)
	case trainedOn > 0 && float64(grown) >= RetrainGrowth*float64(trainedOn):
		return fmt.Sprintf("active contacts grew by %.0f%% since the model was trained", 100*float64(grown)/float64(trainedOn))
	case intake.Rows >= RetrainRows:
		return fmt.Sprintf("%d rows checked since the model was trained", intake.Rows)
	}
	if f, was, is := Drift(trained, &intake.Profile); f != "" {
		return fmt.Sprintf("drift: %s %.2f -> %.2f", f, was, is)
	}
	return ""
}

// RetrainDue reports whether a model trained on trainedOn active contacts (0: the built-in
// model) should be retrained now that there are active ones, on growth alone.
func RetrainDue(active, trainedOn int) bool {
	return RetrainReason(active, trainedOn, nil, Intake{}) != ""
}

// retrainReason counts the active contacts, reads the newest model's training and intake, and
// asks RetrainReason.
func (e *Engine) retrainReason(ctx context.Context) (string, error) {
	active, err := e.Contacts.CountActive(ctx)
	if err != nil {
		return "", err
	}
	version, trained, profile, err := e.Store.TrainedWith(ctx)
	if err != nil {
		return "", err
	}
	intake, err := e.Store.Intake(ctx, version)
	if err != nil {
		return "", err
	}
	return RetrainReason(active, trained, profile, intake), nil
}

// TrainedWith returns the newest stored model's version, how many contacts it was trained on
// and their profile; 0 and nil when there is none (the built-in model is in use) or it does
// not say.
func (s *Store) TrainedWith(ctx context.Context) (version, contacts int, profile *Profile, err error) {
	var raw []byte
	err = s.db.Pool.QueryRow(ctx, `SELECT version, coalesce((stats->>'contacts')::int, 0), stats->'profile'
		FROM matcher_models ORDER BY version DESC LIMIT 1`).Scan(&version, &contacts, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, nil, nil
	}
	if err != nil {
		return 0, 0, nil, fmt.Errorf("dedupe: trained with: %w", err)
	}
	if len(raw) > 0 && string(raw) != "null" {
		profile = &Profile{}
		if err := json.Unmarshal(raw, profile); err != nil {
			return 0, 0, nil, fmt.Errorf("dedupe: model %d profile: %w", version, err)
		}
	}
	return version, contacts, profile, nil
}

// NewestModelAt returns when the newest stored model was trained; the zero time when there is
// none (the built-in model).
func (s *Store) NewestModelAt(ctx context.Context) (time.Time, error) {
	var at time.Time
	err := s.db.Pool.QueryRow(ctx, `SELECT created_at FROM matcher_models ORDER BY version DESC LIMIT 1`).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return at, fmt.Errorf("dedupe: newest model: %w", err)
	}
	return at, nil
}

// AddIntake adds to the newest stored model version's intake (0: the built-in model) rows
// checked, and the profile of those that were active.
func (s *Store) AddIntake(ctx context.Context, rows int64, p Profile) error {
	if p.Names == nil {
		p.Names = []string{}
	}
	if p.Counts == nil {
		p.Counts = []int64{}
	}
	_, err := s.db.Pool.Exec(ctx, `
		INSERT INTO matcher_intake (model_version, rows, profiled, names, counts)
		VALUES ((SELECT coalesce(max(version), 0) FROM matcher_models), $1, $2, $3, $4)
		ON CONFLICT (model_version) DO UPDATE SET
			rows = matcher_intake.rows + EXCLUDED.rows,
			profiled = matcher_intake.profiled + EXCLUDED.profiled,
			names = CASE WHEN cardinality(matcher_intake.names) = 0 THEN EXCLUDED.names ELSE matcher_intake.names END,
			counts = (SELECT array_agg(coalesce(a, 0) + coalesce(b, 0) ORDER BY i)
				FROM unnest(matcher_intake.counts, EXCLUDED.counts) WITH ORDINALITY AS t (a, b, i))`,
		rows, p.Rows, p.Names, p.Counts)
	if err != nil {
		return fmt.Errorf("dedupe: add intake: %w", err)
	}
	return nil
}

// Intake returns what the batch checks have taken in under model version (0: the built-in
// model).
func (s *Store) Intake(ctx context.Context, version int) (Intake, error) {
	var in Intake
	err := s.db.Pool.QueryRow(ctx, `SELECT rows, profiled, names, counts FROM matcher_intake WHERE model_version = $1`, version).
		Scan(&in.Rows, &in.Profile.Rows, &in.Profile.Names, &in.Profile.Counts)
	if errors.Is(err, pgx.ErrNoRows) {
		return Intake{}, nil
	}
	if err != nil {
		return in, fmt.Errorf("dedupe: intake: %w", err)
	}
	return in, nil
}

// retrainNowIfDue trains and stores a new model version here, now, when RetrainReason says
// so, and returns the reason ("" when it did not train).
func (e *Engine) retrainNowIfDue(ctx context.Context) (string, error) {
	reason, err := e.retrainReason(ctx)
	if reason == "" || err != nil {
		return "", err
	}
	if _, err := e.train(ctx, reason); err != nil {
		return "", err
	}
	return reason, nil
}
