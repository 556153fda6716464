package carddav

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/contactfile"
	"github.com/emersion/go-vcard"
)

// parseCard decodes one vCard (3.0 or 4.0).
func parseCard(raw []byte) (vcard.Card, error) {
	card, err := vcard.NewDecoder(bytes.NewReader(raw)).Decode()
	if err != nil {
		return nil, fmt.Errorf("the vCard does not parse: %w", err)
	}
	if card.Value(vcard.FieldVersion) == "" {
		return nil, fmt.Errorf("the vCard has no VERSION")
	}
	return card, nil
}

// encodeCard writes a card, its VERSION first.
func encodeCard(card vcard.Card) ([]byte, error) {
	var b bytes.Buffer
	if err := vcard.NewEncoder(&b).Encode(card); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// mapped is what contactd models of a card.
type mapped struct {
	values         map[string]string
	emails, phones []string // after the primary (values' email and phone)
	tags           []string
	uid, updated   string
}

// mapCard reads the modelled properties of a card: N (or FN when N is empty), the preferred
// EMAIL and TEL (PREF, or TYPE=pref, else the first) and the others, TITLE, ORG's first
// component, the preferred ADR (as the postal address: readAddress), CATEGORIES, UID, REV, and
// custom fields' values (X-CONTACTD-<KEY>, as customFields.<key>).
func mapCard(card vcard.Card) mapped {
	m := mapped{values: map[string]string{}, emails: []string{}, phones: []string{}, tags: []string{}}
	n := nameComponents(card)
	given, family := clean(unescapeComponent(n[1])), clean(unescapeComponent(n[0]))
	emails := ordered(card[vcard.FieldEmail], func(v string) string { return strings.TrimPrefix(v, "mailto:") })
	if len(emails) > 0 {
		m.values["email"], m.emails = emails[0], emails[1:]
	}
	phones := ordered(card[vcard.FieldTelephone], func(v string) string { return strings.TrimPrefix(v, "tel:") })
	if len(phones) > 0 {
		m.values["phone"], m.phones = phones[0], phones[1:]
	}
	set(m.values, "title", clean(card.Value(vcard.FieldTitle)))
	if org := card.Value(vcard.FieldOrganization); org != "" {
		set(m.values, "company", clean(unescapeComponent(contactfile.SplitComponents(org, ';')[0])))
	}
	if fn := clean(card.Value(vcard.FieldFormattedName)); given == "" && family == "" && !slices.Contains(
		[]string{"", "-", m.values["company"], m.values["email"], m.values["phone"]}, fn) && card.Kind() == vcard.KindIndividual {
		// No N: the formatted name, unless it names the company (or an address) rather than a person.
		given, family = splitFN(fn)
	}
	set(m.values, "firstName", given)
	set(m.values, "lastName", family)
	if adr := preferred(card[vcard.FieldAddress]); adr != nil {
		for name, v := range readAddress(adr.Value) {
			set(m.values, name, v)
		}
	}
	m.tags = categories(card)
	for name := range card {
		if key, ok := contactfile.CustomKey(name); ok {
			set(m.values, contact.CustomPrefix+key, clean(card.Value(name)))
		}
	}
	m.uid = clean(card.Value(vcard.FieldUID))
	m.updated = revision(card.Value(vcard.FieldRevision))
	return m
}

func set(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// clean trims a value and folds its line breaks into spaces (contact fields are one line).
func clean(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// nameComponents are N's five components (family, given, additional, prefixes, suffixes),
// still escaped.
func nameComponents(card vcard.Card) []string {
	n := []string{}
	if f := card.Get(vcard.FieldName); f != nil {
		n = contactfile.SplitComponents(f.Value, ';')
	}
	for len(n) < 5 {
		n = append(n, "")
	}
	return n
}

// splitFN splits a formatted name into given and family name at its last space.
func splitFN(fn string) (string, string) {
	if i := strings.LastIndexByte(fn, ' '); i > 0 {
		return fn[:i], fn[i+1:]
	}
	return fn, ""
}

func unescapeComponent(s string) string { return strings.ReplaceAll(s, `\;`, ";") }

// component makes a value safe as one component of a structured value: the vCard encoder does
// not escape semicolons, so they become commas.
func component(s string) string { return strings.ReplaceAll(s, ";", ",") }

// rank is a field's preference: PREF=n (4.0), TYPE=pref (3.0) is 1, none is 100.
func rank(f *vcard.Field) int {
	for k, vs := range f.Params {
		switch strings.ToUpper(k) {
		case "PREF":
			for _, v := range vs {
				if n, err := strconv.Atoi(v); err == nil {
					return n
				}
			}
		case "TYPE":
			for _, v := range vs {
				for _, t := range strings.Split(v, ",") {
					if strings.EqualFold(strings.TrimSpace(t), "pref") {
						return 1
					}
				}
			}
		}
	}
	return 100
}

// ordered returns the non-empty values of fields, the most preferred first (stable).
func ordered(fields []*vcard.Field, norm func(string) string) []string {
	fs := slices.Clone(fields)
	slices.SortStableFunc(fs, func(a, b *vcard.Field) int { return rank(a) - rank(b) })
	var out []string
	for _, f := range fs {
		if v := clean(norm(f.Value)); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// preferred is the field of fields with the best preference (rank), the first of those; nil
// for none.
func preferred(fields []*vcard.Field) *vcard.Field {
	var best *vcard.Field
	for _, f := range fields {
		if best == nil || rank(f) < rank(best) {
			best = f
		}
	}
	return best
}

// addressFields are the contact fields of a postal address, in the order of ADR's components
// from the street on (street, locality, region, postal code, country).
var addressFields = [5]string{"street", "city", "region", "postalCode", "country"}

// readAddress reads an ADR value (post office box; extended address; street; locality;
// region; postal code; country) as contactd's postal address, as contactfile reads a vCard
// file's: the street with its extended address after a comma, or the post office box when
// there is no street; every part one line.
func readAddress(v string) map[string]string {
	comps := contactfile.SplitComponents(v, ';')
	for len(comps) < 7 {
		comps = append(comps, "")
	}
	part := func(i int) string { return clean(unescapeComponent(comps[i])) }
	street := part(2)
	if ext := part(1); ext != "" {
		street = strings.TrimPrefix(street+", "+ext, ", ")
	}
	if street == "" {
		street = part(0)
	}
	out := map[string]string{"street": street}
	for i, name := range addressFields[1:] {
		out[name] = part(3 + i)
	}
	return out
}

// categories reads every CATEGORIES property's comma-separated tags, once each.
func categories(card vcard.Card) []string {
	out := []string{}
	for _, f := range card[vcard.FieldCategories] {
		for _, t := range strings.Split(f.Value, ",") {
			if t = clean(t); t != "" && !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// revision reads REV (a vCard timestamp, RFC 3339, or a date) as RFC 3339 in UTC; "" if it
// does not parse.
func revision(rev string) string {
	rev = strings.TrimSpace(rev)
	for _, layout := range []string{"20060102T150405Z", "20060102T150405Z0700", "20060102T150405", time.RFC3339Nano,
		"2006-01-02T15:04:05", "20060102", "2006-01-02"} {
		if t, err := time.Parse(layout, rev); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return ""
}
