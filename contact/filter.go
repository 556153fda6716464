package contact

import (
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
)

// Filter selects contacts. It is the one filter of contactd: the list, search, export, bulk
// tagging and smart groups all select through it (ParseFilter reads it from the list's query
// parameters, Where renders it as SQL). Zero values do not filter; every set field narrows the
// selection, so every filter combines with every other and with Q.
type Filter struct {
	// Q is a typo-tolerant search over names, email, company, title, phone digits and tags.
	Q         string
	Company   string // case-insensitive exact match
	Role      string // a current relationship with this role or relationship type
	AccountID *uuid.UUID
	// Statuses to include; empty means active only.
	Statuses []Status
	// Tags must all be on the contact; AnyTags needs one of them (case-insensitive).
	Tags, AnyTags []string
	// EmailDomain is the normalized email's domain (case-insensitive).
	EmailDomain   string
	HasEmail      *bool
	HasPhone      *bool
	CreatedAfter  *time.Time
	CreatedBefore *time.Time
	UpdatedAfter  *time.Time
	UpdatedBefore *time.Time
	// GroupID selects a group's contacts. Group is what it selects, which only the group store
	// knows: it must be set (group.Store.Resolve) before Where renders the filter; unresolved,
	// the group selects nothing.
	GroupID *uuid.UUID
	Group   *GroupSelection
	// Type is the contacts' type (explicit or derived, see Contact.Type).
	Type ContactType
	// IncludeChildAccounts widens AccountID to the accounts below it.
	IncludeChildAccounts bool
	// Custom are the conditions on custom fields (cf.<key>), resolved by ResolveCustom.
	Custom []CustomCondition
}

// GroupSelection is what a group selects: a static group's members (Static, the group's id)
// or what a smart group's filter selects (Smart, itself resolved).
type GroupSelection struct {
	Static *uuid.UUID
	Smart  *Filter
}

// FilterParams are the query parameters ParseFilter reads, besides custom fields' (cf.<key>,
// cf.<key>.gte, cf.<key>.lte).
var FilterParams = []string{"q", "company", "role", "account", "status", "tag", "anyTag", "group",
	"emailDomain", "hasEmail", "hasPhone", "createdAfter", "createdBefore", "updatedAfter", "updatedBefore",
	"type", "includeChildAccounts"}

// MaxQueryLen bounds a search text and each filter value.
const MaxQueryLen = 200

// UnknownParams returns the parameters of q that are neither filters nor one of also, sorted.
func UnknownParams(q url.Values, also ...string) []string {
	var out []string
	for k := range q {
		if !slices.Contains(FilterParams, k) && !slices.Contains(also, k) && !isCustomParam(k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// ParseFilter reads a filter from query parameters (the list endpoint's names), reporting every
// invalid one. Parameters that are not filters are ignored (see UnknownParams).
func ParseFilter(q url.Values) (Filter, db.FieldErrors) {
	var errs db.FieldErrors
	f := Filter{
		Q:           searchText(filterText(q, "q", &errs)),
		Company:     filterText(q, "company", &errs),
		Role:        filterText(q, "role", &errs),
		EmailDomain: strings.ToLower(filterText(q, "emailDomain", &errs)),
	}
	if len(f.Company) > MaxCompanyLen {
		errs.Add("company", "must be at most %d characters", MaxCompanyLen)
	}
	f.AccountID = filterID(q, "account", "an account", &errs)
	f.GroupID = filterID(q, "group", "a group", &errs)
	switch st := q.Get("status"); st {
	case "", "active", "archived", "merged":
		if st != "" {
			f.Statuses = []Status{Status(st)}
		}
	case "all":
		f.Statuses = []Status{StatusActive, StatusArchived}
	default:
		errs.Add("status", "must be active, archived, merged or all")
	}
	f.Tags = filterTags(q, "tag", &errs)
	f.AnyTags = filterTags(q, "anyTag", &errs)
	f.HasEmail = filterBool(q, "hasEmail", &errs)
	f.HasPhone = filterBool(q, "hasPhone", &errs)
	f.CreatedAfter = filterTime(q, "createdAfter", &errs)
	f.CreatedBefore = filterTime(q, "createdBefore", &errs)
	f.UpdatedAfter = filterTime(q, "updatedAfter", &errs)
	f.UpdatedBefore = filterTime(q, "updatedBefore", &errs)
	parseOrganize(q, &f, &errs)
	return f, errs
}

// filterText reads a single text parameter: trimmed, valid UTF-8 without control characters,
// at most MaxQueryLen characters.
func filterText(q url.Values, name string, errs *db.FieldErrors) string {
	vs := q[name]
	if len(vs) == 0 {
		return ""
	}
	if len(vs) > 1 {
		errs.Add(name, "must be given once")
		return ""
	}
	v, msg := cleanText(vs[0])
	if msg != "" {
		errs.Add(name, "%s", msg)
	}
	return v
}

// cleanText trims v and says what is wrong with it as filter text, if anything.
func cleanText(v string) (string, string) {
	v = strings.TrimSpace(v)
	switch {
	case !utf8.ValidString(v):
		return "", "must be valid UTF-8"
	case utf8.RuneCountInString(v) > MaxQueryLen:
		return "", fmt.Sprintf("must be at most %d characters", MaxQueryLen)
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", "must not contain control characters"
	}
	return v, ""
}

func filterTags(q url.Values, name string, errs *db.FieldErrors) []string {
	var out []string
	for i, v := range q[name] {
		t, msg := cleanText(v)
		if msg == "" && t == "" {
			msg = "must not be empty"
		}
		if msg != "" {
			errs.Add(fmt.Sprintf("%s[%d]", name, i), "%s", msg)
			continue
		}
		out = append(out, strings.ToLower(t))
	}
	return out
}

func filterID(q url.Values, name, what string, errs *db.FieldErrors) *uuid.UUID {
	v := q.Get(name)
	if v == "" {
		return nil
	}
	id, err := uuid.Parse(v)
	if err != nil {
		errs.Add(name, "must be %s id (UUID)", what)
		return nil
	}
	return &id
}

func filterBool(q url.Values, name string, errs *db.FieldErrors) *bool {
	v := q.Get(name)
	if v == "" {
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		errs.Add(name, "must be true or false")
		return nil
	}
	return &b
}

// filterTime reads an RFC 3339 time or a date (midnight UTC).
func filterTime(q url.Values, name string, errs *db.FieldErrors) *time.Time {
	v := q.Get(name)
	if v == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return &t
		}
	}
	errs.Add(name, "must be an RFC 3339 time (2026-01-02T15:04:05Z) or a date (2026-01-02)")
	return nil
}

var nonDigits = regexp.MustCompile(`\D`)

// searchText normalizes a search: lower-cased; a phone number (digits and phone punctuation
// only) is reduced to its digits, as contacts' phones are indexed.
func searchText(q string) string {
	q = strings.ToLower(q)
	if q != "" && strings.Trim(q, "0123456789+-.() ") == "" && strings.ContainsAny(q, "0123456789") {
		return nonDigits.ReplaceAllString(q, "")
	}
	return q
}

// Where renders the filter as a SQL condition on contacts c, numbering its arguments from
// len(args)+1, and returns the condition and args with the filter's arguments appended. It may
// read other packages' tables (relationships, tags), never write them.
func (f Filter) Where(args []any) (string, []any) {
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	statuses := f.Statuses
	if len(statuses) == 0 {
		statuses = []Status{StatusActive}
	}
	where := []string{"c.status = ANY(" + arg(statuses) + "::text[])"}
	if f.Q != "" {
		var cand string
		cand, args = searchCandidates(f.Q, args)
		where = append(where, "c.id IN (SELECT id FROM ("+cand+") s)")
	}
	if f.Company != "" {
		// As the company sort's key (the same contacts: a company filter is never empty), so
		// that its btree serves the filter in id order and in company order.
		where = append(where, "coalesce(lower(c.company), '') = lower("+arg(f.Company)+")")
	}
	if f.Role != "" {
		r := arg(f.Role)
		where = append(where, `c.id IN (
			SELECT contact_id FROM contact_accounts WHERE lower(role) = lower(`+r+`) AND removed_at IS NULL
			UNION SELECT contact_id FROM contact_users WHERE lower(relationship_type) = lower(`+r+`) AND removed_at IS NULL)`)
	}
	if f.AccountID != nil {
		where = append(where, f.accountSQL(arg))
	}
	for _, t := range f.Tags {
		// The tag's id as a one-time subquery: its contacts are read by (tag_id, contact_id) in
		// id order, so tags combine by merge joins and a page stops early.
		where = append(where, "c.id IN (SELECT ct.contact_id FROM contact_tags ct WHERE ct.tag_id = (SELECT id FROM tags WHERE name_key = "+arg(t)+"))")
	}
	if len(f.AnyTags) > 0 {
		where = append(where, "c.id IN (SELECT ct.contact_id FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id WHERE t.name_key = ANY("+arg(f.AnyTags)+"::text[]))")
	}
	if f.GroupID != nil {
		switch g := f.Group; {
		case g == nil:
			where = append(where, "false")
		case g.Static != nil:
			where = append(where, "c.id IN (SELECT contact_id FROM group_members WHERE group_id = "+arg(*g.Static)+")")
		case g.Smart != nil:
			var inner string
			inner, args = g.Smart.Where(args)
			where = append(where, "("+inner+")")
		}
	}
	if f.EmailDomain != "" {
		where = append(where, "c.email_normalized IS NOT NULL AND lower(split_part(c.email_normalized, '@', 2)) = "+arg(f.EmailDomain))
	}
	if f.HasEmail != nil {
		where = append(where, map[bool]string{true: "c.email IS NOT NULL", false: "c.email IS NULL"}[*f.HasEmail])
	}
	if f.HasPhone != nil {
		where = append(where, map[bool]string{true: "c.phone IS NOT NULL", false: "c.phone IS NULL"}[*f.HasPhone])
	}
	for _, r := range []struct {
		t  *time.Time
		op string
	}{{f.CreatedAfter, "c.created_at > "}, {f.CreatedBefore, "c.created_at < "}, {f.UpdatedAfter, "c.updated_at > "}, {f.UpdatedBefore, "c.updated_at < "}} {
		if r.t != nil {
			where = append(where, r.op+arg(*r.t))
		}
	}
	where = f.whereOrganize(where, arg)
	return strings.Join(where, " AND "), args
}

// selectsAll says the filter selects by status only.
func (f Filter) selectsAll() bool {
	g := f
	g.Statuses = nil
	return reflect.DeepEqual(g, Filter{})
}

// searches says the filter, or a smart group it selects by, searches.
func (f Filter) searches() bool {
	return f.Q != "" || (f.Group != nil && f.Group.Smart != nil && f.Group.Smart.searches())
}
