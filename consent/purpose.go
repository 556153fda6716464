package consent

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Purpose is what a contact may be reached for (a subscription type).
type Purpose struct {
	Name        string
	Description string
	// OptIn says a contact is reachable for the purpose only with a grant on record; otherwise
	// it is reachable unless it withdrew.
	OptIn bool
	// LawfulBases are the bases a grant must name to count for the purpose.
	LawfulBases []string
	CreatedAt   time.Time
}

// LawfulBases are the lawful bases of GDPR Art. 6(1) a consent event may name.
var LawfulBases = []string{"consent", "contract", "legal_obligation", "vital_interest", "public_task", "legitimate_interest"}

// MaxDescriptionLen bounds a purpose's description, in characters.
const MaxDescriptionLen = 1000

var purposeName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// Validate trims p in place and reports every invalid field.
func (p *Purpose) Validate() error {
	var errs db.FieldErrors
	p.Name = strings.ToLower(strings.TrimSpace(p.Name))
	if !purposeName.MatchString(p.Name) {
		errs.Add("name", "must be 1 to 64 lower-case letters, digits, '_' or '-', starting with a letter")
	}
	p.Description = contact.CleanText(&errs, "description", p.Description, MaxDescriptionLen)
	if len(p.LawfulBases) == 0 {
		errs.Add("lawfulBases", "must name at least one of %s", strings.Join(LawfulBases, ", "))
	}
	for i, b := range p.LawfulBases {
		if !slices.Contains(LawfulBases, b) {
			errs.Add(fmt.Sprintf("lawfulBases[%d]", i), "must be one of %s", strings.Join(LawfulBases, ", "))
		} else if slices.Index(p.LawfulBases, b) != i {
			errs.Add(fmt.Sprintf("lawfulBases[%d]", i), "is listed twice")
		}
	}
	return errs.Err()
}

// CreatePurpose validates and stores a new purpose; an existing name is KindConflict.
func (s *Store) CreatePurpose(ctx context.Context, p Purpose) (*Purpose, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO purposes (name, description, opt_in, lawful_bases) VALUES ($1, $2, $3, $4)
			ON CONFLICT (name) DO NOTHING`, p.Name, p.Description, p.OptIn, p.LawfulBases)
		if err != nil {
			return fmt.Errorf("consent: create purpose %s: %w", p.Name, err)
		}
		if tag.RowsAffected() == 0 {
			return &db.Error{Kind: db.KindConflict, Message: fmt.Sprintf("purpose %q exists", p.Name)}
		}
		a := contact.NewAudit(ctx)
		a.Add("create", "purpose", uuid.NewSHA1(uuid.NameSpaceURL, []byte("purpose:"+p.Name)), nil, map[string]contact.Change{
			"name": {After: p.Name}, "optIn": {After: p.OptIn}, "lawfulBases": {After: p.LawfulBases}})
		return a.Flush(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return s.Purpose(ctx, p.Name)
}

// Purposes returns every purpose, by name.
func (s *Store) Purposes(ctx context.Context) ([]Purpose, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT name, description, opt_in, lawful_bases, created_at FROM purposes ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("consent: purposes: %w", err)
	}
	ps, err := pgx.CollectRows(rows, scanPurpose)
	if err != nil {
		return nil, fmt.Errorf("consent: purposes: %w", err)
	}
	return ps, nil
}

// Purpose returns the named purpose, or KindNotFound.
func (s *Store) Purpose(ctx context.Context, name string) (*Purpose, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT name, description, opt_in, lawful_bases, created_at FROM purposes WHERE name = $1`, name)
	if err != nil {
		return nil, fmt.Errorf("consent: purpose %s: %w", name, err)
	}
	p, err := pgx.CollectExactlyOneRow(rows, scanPurpose)
	if err == pgx.ErrNoRows {
		return nil, db.NotFound("purpose %q not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("consent: purpose %s: %w", name, err)
	}
	return &p, nil
}

func scanPurpose(r pgx.CollectableRow) (Purpose, error) {
	var p Purpose
	err := r.Scan(&p.Name, &p.Description, &p.OptIn, &p.LawfulBases, &p.CreatedAt)
	return p, err
}
