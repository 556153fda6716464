package retention

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
)

// MaxInactiveDays bounds a filter's inactiveDays (about a century).
const MaxInactiveDays = 36500

// Criteria is what a policy selects: the contact filter (status and tag, read and rendered by
// package contact like the list's), narrowed by inactivity and by the lack of any lawful basis.
// Every set field narrows the selection.
type Criteria struct {
	// Status is the contact filter's status parameter: active (the default), archived or all.
	Status string `json:"status,omitempty"`
	// Tag must be on the contact (case-insensitive).
	Tag string `json:"tag,omitempty"`
	// InactiveDays selects contacts with no change (their own or audited about them), no
	// communication and no consent event in the last so many days.
	InactiveDays *int `json:"inactiveDays,omitempty"`
	// NoLawfulBasis true selects contacts with no consent granted and no lawful basis on record
	// for any channel and purpose (counting the records merged into them); false selects the
	// others.
	NoLawfulBasis *bool `json:"noLawfulBasis,omitempty"`
}

// filter is the contact filter the criteria's status and tag are.
func (c Criteria) filter() (contact.Filter, db.FieldErrors) {
	q := url.Values{}
	if c.Status != "" {
		q.Set("status", c.Status)
	}
	if c.Tag != "" {
		q.Set("tag", c.Tag)
	}
	f, errs := contact.ParseFilter(q)
	for i := range errs {
		errs[i].Field = "filter." + strings.TrimSuffix(errs[i].Field, "[0]")
	}
	return f, errs
}

// check reports every invalid field of c (named filter.<field>) and returns c normalized.
func (c Criteria) check() (Criteria, db.FieldErrors) {
	c.Status, c.Tag = strings.ToLower(strings.TrimSpace(c.Status)), strings.TrimSpace(c.Tag)
	_, errs := c.filter()
	if c.Status == string(contact.StatusMerged) {
		errs.Add("filter.status", "must be active, archived or all: merged contacts answer for their survivor")
	}
	if d := c.InactiveDays; d != nil && (*d < 1 || *d > MaxInactiveDays) {
		errs.Add("filter.inactiveDays", "must be between 1 and %d", MaxInactiveDays)
	}
	return c, errs
}

// ParseCriteria reads a policy's filter object, reporting every unknown or invalid field.
func ParseCriteria(raw json.RawMessage) (Criteria, error) {
	var errs db.FieldErrors
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		errs.Add("filter", "must be an object")
		return Criteria{}, errs.Err()
	}
	var c Criteria
	for k, v := range m {
		if string(v) == "null" {
			continue
		}
		var err error
		switch k {
		case "status":
			err = json.Unmarshal(v, &c.Status)
		case "tag":
			err = json.Unmarshal(v, &c.Tag)
		case "inactiveDays":
			var d int
			if err = json.Unmarshal(v, &d); err == nil {
				c.InactiveDays = &d
			}
		case "noLawfulBasis":
			var b bool
			if err = json.Unmarshal(v, &b); err == nil {
				c.NoLawfulBasis = &b
			}
		default:
			errs.Add("filter."+k, "is not a retention filter (status, tag, inactiveDays, noLawfulBasis)")
			continue
		}
		if err != nil {
			errs.Add("filter."+k, "%s", map[string]string{"status": "must be a string", "tag": "must be a string",
				"inactiveDays": "must be a whole number of days", "noLawfulBasis": "must be true or false"}[k])
		}
	}
	c, more := c.check()
	errs = append(errs, more...)
	if err := errs.Err(); err != nil {
		return Criteria{}, err
	}
	return c, nil
}

// Where renders the criteria as a SQL condition on contacts c as of asOf (inactivity is
// counted back from it), numbering its arguments after args like contact.Filter.Where, whose
// condition it extends.
func (c Criteria) Where(args []any, asOf time.Time) (string, []any) {
	f, _ := c.filter()
	where, args := f.Where(args)
	conds := []string{where}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if c.InactiveDays != nil {
		cut := arg(asOf.Add(-time.Duration(*c.InactiveDays) * 24 * time.Hour))
		conds = append(conds, fmt.Sprintf(inactiveSQL, cut))
	}
	if c.NoLawfulBasis != nil {
		if *c.NoLawfulBasis {
			conds = append(conds, "NOT "+lawfulBasisSQL)
		} else {
			conds = append(conds, lawfulBasisSQL)
		}
	}
	return strings.Join(conds, " AND "), args
}

// inactiveSQL is true when contact c has had no change, audit entry, communication or consent
// event since %[1]s: every probe is one index range read per contact. Communications and
// consent events count by when they happened; recording them is audited, which counts too.
const inactiveSQL = `c.updated_at < %[1]s
	AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.contact_id = c.id AND a.at >= %[1]s)
	AND NOT EXISTS (SELECT 1 FROM communications m WHERE m.contact_id = c.id AND m.occurred_at >= %[1]s)
	AND NOT EXISTS (SELECT 1 FROM consent_events e WHERE e.contact_id = c.id AND e.captured_at >= %[1]s)`

// lawfulBasisSQL is true when contact c, or a contact merged into it (down a chain of merges),
// has a grant that is the latest event of its channel and purpose: a current grant, whatever
// its lawful basis. It is deliberately wide: a grant a withdrawal on another merged record
// overrides still counts, so a contact whose basis is in doubt is never taken for one without.
const lawfulBasisSQL = `EXISTS (
		WITH RECURSIVE fold (id) AS (SELECT c.id UNION ALL SELECT m.id FROM contacts m JOIN fold ON m.merged_into = fold.id)
		SELECT 1 FROM fold CROSS JOIN LATERAL (
			SELECT DISTINCT ON (e.channel, e.purpose) e.status FROM consent_events e WHERE e.contact_id = fold.id
			ORDER BY e.channel, e.purpose, e.captured_at DESC, e.id DESC) cur
		WHERE cur.status = 'granted')`
