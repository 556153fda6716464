package contact

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/contactd/contactd/contactfile"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/matcher"
)

// CustomType is a custom field's type: how its values are validated, stored and compared.
type CustomType string

// The custom field types.
const (
	CustomText      CustomType = "text"
	CustomNumber    CustomType = "number"
	CustomDate      CustomType = "date"
	CustomBoolean   CustomType = "boolean"
	CustomEnum      CustomType = "enum"
	CustomMultiEnum CustomType = "multi_enum"
	CustomEmail     CustomType = "email"
	CustomPhone     CustomType = "phone"
	CustomURL       CustomType = "url"
)

// CustomTypes are the custom field types, in the order the API documents them.
var CustomTypes = []CustomType{CustomText, CustomNumber, CustomDate, CustomBoolean, CustomEnum, CustomMultiEnum,
	CustomEmail, CustomPhone, CustomURL}

// Bounds on custom fields.
const (
	MaxCustomKeyLen    = 64
	MaxCustomLabelLen  = 100
	MaxCustomOptions   = 200
	MaxCustomOptionLen = 100
	MaxCustomTextLen   = 2000
	// MaxCustomFields bounds the definitions: each is a column of exports and a key of every
	// contact's values.
	MaxCustomFields = 200
)

// CustomField is a custom field's definition. Key names its value in every contact's
// CustomFields, in filters (cf.<key>), in the audit log (customFields.<key>) and in exports; it
// never changes. Label may.
type CustomField struct {
	Key     string
	Label   string
	Type    CustomType
	Options []string // the allowed values of an enum or multi_enum, in their spelling
	// Required: a new contact must have a value, and no write may remove it.
	Required bool
	// Unique: no two active contacts have the same value.
	Unique    bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CustomPrefix is the prefix of custom fields' names in problems and in the audit log.
const CustomPrefix = "customFields."

var customKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Validate trims the definition in place and reports every invalid field of it.
func (d *CustomField) Validate() error {
	var errs db.FieldErrors
	d.Key = strings.TrimSpace(d.Key)
	switch {
	case d.Key == "":
		errs.Add("key", "is required")
	case len(d.Key) > MaxCustomKeyLen || !customKeyRE.MatchString(d.Key):
		errs.Add("key", "must be a lower-case letter followed by up to %d lower-case letters, digits or underscores", MaxCustomKeyLen-1)
	case FieldByName(d.Key) != nil || builtinNames[d.Key]:
		errs.Add("key", "is the name of a built-in contact field")
	}
	d.validateRest(&errs)
	return errs.Err()
}

// builtinNames are contact attributes outside Fields that a custom field's key or an import
// column must not shadow (external_id: vCard's X-CONTACTD-EXTERNAL-ID, which a key's
// X-CONTACTD-<KEY> would be).
var builtinNames = map[string]bool{"tags": true, "type": true, "id": true, "status": true, "extra": true, "external_id": true}

func (d *CustomField) validateRest(errs *db.FieldErrors) {
	if d.Options == nil {
		d.Options = []string{}
	}
	d.Label = CleanText(errs, "label", d.Label, MaxCustomLabelLen)
	if d.Label == "" {
		d.Label = d.Key
	}
	if !slices.Contains(CustomTypes, d.Type) {
		names := make([]string, len(CustomTypes))
		for i, t := range CustomTypes {
			names[i] = string(t)
		}
		errs.Add("type", "must be one of %s", strings.Join(names, ", "))
	}
	enum := d.Type == CustomEnum || d.Type == CustomMultiEnum
	switch {
	case enum && len(d.Options) == 0:
		errs.Add("options", "are required for an enum or multi_enum field")
	case !enum && len(d.Options) > 0:
		errs.Add("options", "apply only to enum and multi_enum fields")
	case len(d.Options) > MaxCustomOptions:
		errs.Add("options", "must have at most %d entries", MaxCustomOptions)
	}
	seen := map[string]bool{}
	for i, o := range d.Options {
		field := fmt.Sprintf("options[%d]", i)
		o = CleanText(errs, field, o, MaxCustomOptionLen)
		d.Options[i] = o
		switch k := strings.ToLower(o); {
		case o == "":
			errs.Add(field, "must not be empty")
		case strings.Contains(o, ";"):
			errs.Add(field, "must not contain ; (it separates a multi_enum's values in files)")
		case seen[k]:
			errs.Add(field, "is listed twice")
		default:
			seen[k] = true
		}
	}
	if d.Unique && (d.Type == CustomBoolean || d.Type == CustomMultiEnum) {
		errs.Add("unique", "does not apply to %s fields", d.Type)
	}
}

// CustomFieldPatch changes a definition: fields not Set are kept. Key and Type never change
// (a field of another type is a new field).
type CustomFieldPatch struct {
	Label    Opt[string]
	Options  Opt[[]string]
	Required Opt[bool]
	Unique   Opt[bool]
}

// apply returns d with p applied, validated.
func (p CustomFieldPatch) apply(d CustomField) (CustomField, error) {
	d.Options = slices.Clone(d.Options)
	if p.Label.Set {
		d.Label = p.Label.Value
	}
	if p.Options.Set {
		d.Options = slices.Clone(p.Options.Value)
	}
	if p.Required.Set {
		d.Required = p.Required.Value
	}
	if p.Unique.Set {
		d.Unique = p.Unique.Value
	}
	var errs db.FieldErrors
	d.validateRest(&errs)
	return d, errs.Err()
}

// option returns the option v names (case-insensitively) in its defined spelling.
func (d *CustomField) option(v string) (string, bool) {
	for _, o := range d.Options {
		if strings.EqualFold(o, strings.TrimSpace(v)) {
			return o, true
		}
	}
	return "", false
}

// Canonical validates a value of the field and returns it in its stored form: text, email,
// phone and url as a trimmed string (an email lower-cased), a number as float64, a date as
// "YYYY-MM-DD", a boolean as bool, an enum as its option's spelling, a multi_enum as a sorted
// set of options. v is a decoded JSON value (string, float64, json.Number, bool, []any) or text
// from a file: strings are accepted for every type ("42", "true", "a;b"). It returns nil for
// an empty value (no value) and a message saying what is wrong otherwise.
func (d *CustomField) Canonical(v any) (any, string) {
	if n, ok := v.(json.Number); ok {
		v = string(n)
		if d.Type != CustomNumber {
			return nil, d.typeMessage()
		}
	}
	if s, ok := v.(string); ok {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, ""
		}
		if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, "must be valid UTF-8 without control characters"
		}
		if n := utf8.RuneCountInString(s); n > MaxCustomTextLen {
			return nil, fmt.Sprintf("must be at most %d characters (got %d)", MaxCustomTextLen, n)
		}
		return d.fromText(s)
	}
	switch x := v.(type) {
	case nil:
		return nil, ""
	case float64:
		if d.Type == CustomNumber {
			return x, ""
		}
	case bool:
		if d.Type == CustomBoolean {
			return x, ""
		}
	case []any:
		if d.Type == CustomMultiEnum {
			parts := make([]string, 0, len(x))
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, "must be an array of options"
				}
				parts = append(parts, s)
			}
			return d.multi(parts)
		}
	case []string:
		if d.Type == CustomMultiEnum {
			return d.multi(x)
		}
	}
	return nil, d.typeMessage()
}

func (d *CustomField) typeMessage() string {
	switch d.Type {
	case CustomNumber:
		return "must be a number"
	case CustomBoolean:
		return "must be true or false"
	case CustomMultiEnum:
		return "must be an array of options (one of " + strings.Join(d.Options, ", ") + ")"
	case CustomDate:
		return "must be a date (YYYY-MM-DD)"
	}
	return "must be a string"
}

var urlSchemes = []string{"http", "https"}

func (d *CustomField) fromText(s string) (any, string) {
	switch d.Type {
	case CustomText:
		return s, ""
	case CustomNumber:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f != f || f > 1e308 || f < -1e308 {
			return nil, "must be a number"
		}
		return f, ""
	case CustomDate:
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			if t2, err2 := time.Parse(time.RFC3339, s); err2 == nil {
				t, err = t2, nil
			}
		}
		if err != nil {
			return nil, "must be a date (YYYY-MM-DD)"
		}
		return t.Format(time.DateOnly), ""
	case CustomBoolean:
		switch strings.ToLower(s) {
		case "true", "yes", "1":
			return true, ""
		case "false", "no", "0":
			return false, ""
		}
		return nil, "must be true or false"
	case CustomEnum:
		if o, ok := d.option(s); ok {
			return o, ""
		}
		return nil, "must be one of " + strings.Join(d.Options, ", ")
	case CustomMultiEnum:
		return d.multi(strings.Split(s, ";"))
	case CustomEmail:
		if _, err := matcher.NormalizeEmail(s); err != nil || len(s) > MaxEmailLen {
			return nil, "is not a valid email address"
		}
		return strings.ToLower(s), ""
	case CustomPhone:
		if n := matcher.PhoneDigits(s); n < MinPhoneDigit || n > MaxPhoneDigit || len(s) > MaxPhoneLen {
			return nil, fmt.Sprintf("must have %d to %d digits", MinPhoneDigit, MaxPhoneDigit)
		}
		return s, ""
	case CustomURL:
		u, err := url.Parse(s)
		if err != nil || !slices.Contains(urlSchemes, strings.ToLower(u.Scheme)) || u.Host == "" {
			return nil, "must be an http or https URL"
		}
		return s, ""
	}
	return nil, "has an unknown type"
}

func (d *CustomField) multi(parts []string) (any, string) {
	var out []string
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			continue
		}
		o, ok := d.option(p)
		if !ok {
			return nil, fmt.Sprintf("has %q, which is not one of %s", strings.TrimSpace(p), strings.Join(d.Options, ", "))
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		return nil, ""
	}
	slices.Sort(out)
	return out, ""
}

// CustomValues are a contact's custom field values by key, in their stored forms (see
// CustomField.Canonical). Values read back from the database are decoded JSON: a multi_enum is
// []any.
type CustomValues map[string]any

// CustomInput is custom field values as a client or a file sent them, by key; a nil value
// (JSON null) removes the field's value.
type CustomInput map[string]any

// Definitions are the custom field definitions by key.
type Definitions map[string]*CustomField

// apply validates in against the definitions and returns cur with it applied (cur is not
// changed). Every error is named customFields.<key>. creating says the contact is new: every
// required field must then have a value; otherwise a required field may only not be removed.
func (defs Definitions) apply(cur CustomValues, in CustomInput, creating bool) (CustomValues, db.FieldErrors) {
	var errs db.FieldErrors
	out := maps.Clone(cur)
	if out == nil {
		out = CustomValues{}
	}
	for _, k := range slices.Sorted(maps.Keys(in)) {
		d := defs[k]
		if d == nil {
			errs.Add(CustomPrefix+k, "is not a custom field (see GET /api/fields)")
			continue
		}
		v, msg := d.Canonical(in[k])
		if msg != "" {
			errs.Add(CustomPrefix+k, "%s", msg)
			continue
		}
		if v == nil {
			if d.Required {
				errs.Add(CustomPrefix+k, "is required")
				continue
			}
			delete(out, k)
			continue
		}
		out[k] = v
	}
	if creating {
		for _, k := range slices.Sorted(maps.Keys(defs)) {
			if _, ok := out[k]; !ok && defs[k].Required {
				if _, sent := in[k]; !sent {
					errs.Add(CustomPrefix+k, "is required")
				}
			}
		}
	}
	return out, errs
}

// customEqual says two stored values are the same.
func customEqual(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// customChanges adds the custom values that differ between before and after to changes, as
// customFields.<key>.
func customChanges(changes map[string]Change, before, after CustomValues) {
	for k, a := range after {
		if b := before[k]; !customEqual(a, b) {
			changes[CustomPrefix+k] = Change{Before: b, After: a}
		}
	}
	for k, b := range before {
		if _, ok := after[k]; !ok {
			changes[CustomPrefix+k] = Change{Before: b, After: nil}
		}
	}
}

// mergeCustom is the survivorship of custom fields: the survivor keeps each value it has;
// a key it has none for takes the value of the first of others (most recently updated first)
// that has one.
func mergeCustom(survivor *Contact, others []*Contact) CustomValues {
	out := maps.Clone(survivor.Custom)
	if out == nil {
		out = CustomValues{}
	}
	for _, o := range others {
		for k, v := range o.Custom {
			if _, ok := out[k]; !ok && v != nil {
				out[k] = v
			}
		}
	}
	return out
}

// restoreCustom gives an unmerged survivor back, key by key, the custom values it had before
// the merge (before) where it still has what the merge gave it (after); a key changed since
// (cur differs from both) keeps its value and gets a line in the report.
func restoreCustom(cur, before, after CustomValues) (CustomValues, []string) {
	out := maps.Clone(cur)
	if out == nil {
		out = CustomValues{}
	}
	var report []string
	keys := map[string]bool{}
	for _, m := range []CustomValues{cur, before, after} {
		for k := range m {
			keys[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		c, b, a := cur[k], before[k], after[k]
		switch {
		case customEqual(c, b):
		case customEqual(c, a):
			if b == nil {
				delete(out, k)
			} else {
				out[k] = b
			}
		default:
			report = append(report, fmt.Sprintf("survivor.%s%s changed since the merge; kept %s", CustomPrefix, k, contactfile.CustomText(c)))
		}
	}
	return out, report
}
