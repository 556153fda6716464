package contact

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/contactd/contactd/internal/db"
)

// CustomParamPrefix starts the filter parameters on custom fields: cf.<key> (equality),
// cf.<key>.gte and cf.<key>.lte (numbers and dates).
const CustomParamPrefix = "cf."

// CustomCondition is a filter on a custom field, as a query parameter gave it. Def is the
// field's definition, set by ResolveCustom before Where renders the filter; unresolved (the
// field no longer exists), the condition selects nothing.
type CustomCondition struct {
	Param string // the parameter: cf.industry, cf.employees.gte
	Key   string
	Op    string // "eq", "gte" or "lte"
	Value string
	Def   *CustomField
	value any // the canonical value, set by ResolveCustom
}

// isCustomParam says name is a custom field filter parameter.
func isCustomParam(name string) bool {
	return strings.HasPrefix(name, CustomParamPrefix) && len(name) > len(CustomParamPrefix)
}

// parseOrganize reads the filters of contact types, the account hierarchy and custom fields.
func parseOrganize(q url.Values, f *Filter, errs *db.FieldErrors) {
	if t := strings.ToLower(filterText(q, "type", errs)); t != "" {
		validType(errs, "type", t)
		f.Type = ContactType(t)
	}
	if b := filterBool(q, "includeChildAccounts", errs); b != nil {
		f.IncludeChildAccounts = *b
		if *b && f.AccountID == nil && q.Get("account") == "" {
			errs.Add("includeChildAccounts", "applies only with account")
		}
	}
	names := make([]string, 0)
	for k := range q {
		if isCustomParam(k) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		key, op := strings.TrimPrefix(name, CustomParamPrefix), "eq"
		for _, o := range []string{"gte", "lte"} {
			if strings.HasSuffix(key, "."+o) {
				key, op = strings.TrimSuffix(key, "."+o), o
			}
		}
		v := filterText(q, name, errs)
		if v == "" {
			if len(q[name]) == 1 {
				errs.Add(name, "must not be empty")
			}
			continue
		}
		f.Custom = append(f.Custom, CustomCondition{Param: name, Key: key, Op: op, Value: v})
	}
}

// UnknownCustomParams returns the cf.<key> parameters of q whose key is no custom field's.
func (s *Store) UnknownCustomParams(ctx context.Context, q url.Values) ([]string, error) {
	var names []string
	for k := range q {
		if isCustomParam(k) {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	defs, err := s.CustomDefinitions(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		key := strings.TrimPrefix(n, CustomParamPrefix)
		if defs[key] == nil {
			key = strings.TrimSuffix(strings.TrimSuffix(key, ".gte"), ".lte")
		}
		if defs[key] == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ResolveCustom sets the definitions of f's custom field conditions (and of the smart groups'
// filters it selects by, once resolved) and checks their values by type, reporting every
// wrong one by its parameter. A condition on a field that does not exist is reported too.
func ResolveCustom(ctx context.Context, q db.Querier, f *Filter) error {
	if !f.hasCustom() {
		return nil
	}
	list, err := listCustomFields(ctx, q)
	if err != nil {
		return err
	}
	var errs db.FieldErrors
	f.resolveCustom(definitionsOf(list), &errs)
	return errs.Err()
}

func (f *Filter) hasCustom() bool {
	return len(f.Custom) > 0 || (f.Group != nil && f.Group.Smart != nil && f.Group.Smart.hasCustom())
}

func (f *Filter) resolveCustom(defs Definitions, errs *db.FieldErrors) {
	for i := range f.Custom {
		c := &f.Custom[i]
		d := defs[c.Key]
		if d == nil {
			errs.Add(c.Param, "is not a custom field (see GET /api/fields)")
			continue
		}
		if c.Op != "eq" && d.Type != CustomNumber && d.Type != CustomDate {
			errs.Add(c.Param, "applies only to number and date fields; %s is a %s field", c.Key, d.Type)
			continue
		}
		v, msg := d.Canonical(c.Value)
		if msg != "" {
			errs.Add(c.Param, "%s", msg)
			continue
		}
		if d.Type == CustomMultiEnum {
			// Equality with a multi_enum means it has the option(s).
			v = v.([]string)
		}
		c.Def, c.value = d, v
	}
	if f.Group != nil && f.Group.Smart != nil {
		var inner db.FieldErrors
		f.Group.Smart.resolveCustom(defs, &inner)
		// A smart group's condition on a field deleted since selects nothing; it is not the
		// request's mistake.
	}
}

// whereOrganize appends the conditions of contact types, the account hierarchy and custom
// fields to where.
func (f Filter) whereOrganize(where []string, arg func(any) string) []string {
	if f.Type != "" {
		where = append(where, typeFilterSQL(f.Type))
	}
	for _, c := range f.Custom {
		if c.Def == nil {
			where = append(where, "false")
			continue
		}
		switch c.Op {
		case "eq":
			doc, _ := json.Marshal(map[string]any{c.Key: c.value})
			where = append(where, "c.custom_fields @> "+arg(string(doc))+"::jsonb")
		case "gte", "lte":
			op := map[string]string{"gte": ">=", "lte": "<="}[c.Op]
			k := arg(c.Key)
			if c.Def.Type == CustomNumber {
				where = append(where, fmt.Sprintf("jsonb_typeof(c.custom_fields -> %s) = 'number' AND (c.custom_fields ->> %s)::numeric %s %s::numeric",
					k, k, op, arg(c.value)))
			} else {
				where = append(where, fmt.Sprintf("c.custom_fields ->> %s %s %s", k, op, arg(c.value)))
			}
		}
	}
	return where
}

// typeFilterSQL selects the contacts of type t (TypeSQL = t) in a form the planner can read
// by index: an explicit type through its btree; the derived account and user types, rare,
// through the links that derive them; business, the usual type, as what has neither.
func typeFilterSQL(t ContactType) string {
	const (
		account = `EXISTS (SELECT 1 FROM contact_accounts ta WHERE ta.contact_id = c.id AND ta.removed_at IS NULL)`
		user    = `EXISTS (SELECT 1 FROM contact_users tu WHERE tu.contact_id = c.id AND tu.removed_at IS NULL)`
	)
	switch t {
	case TypeAccount:
		return `c.id IN (SELECT id FROM contacts WHERE contact_type = 'account'
			UNION SELECT ta.contact_id FROM contact_accounts ta JOIN contacts x ON x.id = ta.contact_id
				WHERE ta.removed_at IS NULL AND x.contact_type IS NULL)`
	case TypeUser:
		return `c.id IN (SELECT id FROM contacts WHERE contact_type = 'user'
			UNION SELECT tu.contact_id FROM contact_users tu JOIN contacts c ON c.id = tu.contact_id
				WHERE tu.removed_at IS NULL AND c.contact_type IS NULL AND NOT ` + account + `)`
	default:
		return `(c.contact_type = 'business' OR (c.contact_type IS NULL AND NOT ` + account + ` AND NOT ` + user + `))`
	}
}

// accountSQL selects the contacts of the account (and, with IncludeChildAccounts, of every
// account below it).
func (f Filter) accountSQL(arg func(any) string) string {
	a := arg(*f.AccountID)
	if !f.IncludeChildAccounts {
		return "c.id IN (SELECT contact_id FROM contact_accounts WHERE account_id = " + a + " AND removed_at IS NULL)"
	}
	return `c.id IN (SELECT contact_id FROM contact_accounts WHERE removed_at IS NULL AND account_id IN (
		WITH RECURSIVE down (id, depth) AS (
			SELECT id, 0 FROM accounts WHERE id = ` + a + `
			UNION ALL
			SELECT x.id, down.depth + 1 FROM accounts x JOIN down ON x.parent_id = down.id WHERE down.depth < 100)
		SELECT id FROM down))`
}
