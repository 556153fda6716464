package syncengine

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/contactfile"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/sync/source"
	"github.com/contactd/contactd/tag"
)

// A record's state (source.State) is what the engine compares: the contact fields, and the
// further emails and phones (the contact's alternates) and tags when the source carries them.
// The same state is computed from a pulled record, from a contact (to push it) and kept with
// the link as the base of the three-way merge, so that a record whose state did not change is
// not re-imported (whatever its ETag) and a contact whose state did not change is not pushed.

// sets are the state's set fields, with the alternate kind each is stored as ("" for tags).
var sets = []struct {
	name, kind string
	get        func(*source.State) *[]string
}{
	{"emails", "email", func(s *source.State) *[]string { return &s.Emails }},
	{"phones", "phone", func(s *source.State) *[]string { return &s.Phones }},
	{"tags", "", func(s *source.State) *[]string { return &s.Tags }},
}

// setKey is the identity of a set member: emails by normalized address, tags regardless of
// case, phones as written.
func setKey(kind, v string) string {
	if kind == "" {
		return tag.Key(v)
	}
	return contact.AlternateKey(kind, v)
}

// cleanSet trims, drops empty values, repeats (by key) and the value own (the contact's
// primary email or phone), and sorts by key; nil stays nil (not carried).
func cleanSet(kind string, vs []string, own *string) []string {
	if vs == nil {
		return nil
	}
	out := []string{}
	seen := map[string]bool{}
	if own != nil {
		seen[setKey(kind, *own)] = true
	}
	for _, v := range vs {
		v = strings.TrimSpace(v)
		if v == "" || seen[setKey(kind, v)] {
			continue
		}
		seen[setKey(kind, v)] = true
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(setKey(kind, a), setKey(kind, b)) })
	return out
}

// recordState validates a record's values as a created contact's would be, and returns them,
// its custom field values (customFields.<key>, validated by the field's type in defs, in their
// stored form) and its state (custom values as text, under their names).
func recordState(r *Record, defs contact.Definitions) (contact.Values, contact.CustomValues, source.State, error) {
	var in contact.NewContact
	var errs db.FieldErrors
	custom := contact.CustomInput{}
	for name, v := range r.Values {
		if key, ok := strings.CutPrefix(name, contact.CustomPrefix); ok {
			if v = strings.TrimSpace(v); v != "" {
				custom[key] = v
			}
			continue
		}
		f := contact.FieldByName(name)
		if f == nil {
			errs.Add(name, "is not a contact field")
			continue
		}
		*f.Input(&in) = v
	}
	var canon contact.CustomValues
	if len(custom) > 0 {
		var cerrs db.FieldErrors
		canon, cerrs = defs.Apply(nil, custom, false)
		errs = append(errs, cerrs...)
	}
	if err := errs.Err(); err != nil {
		return contact.Values{}, nil, source.State{}, err
	}
	in.KeepUnparseablePhone = true
	if err := in.Validate(); err != nil {
		return contact.Values{}, nil, source.State{}, err
	}
	vals := in.Values()
	st := source.State{Values: valuesMap(&vals)}
	addCustom(st.Values, canon)
	st.Emails = cleanSet("email", r.Emails, vals.Email)
	st.Phones = cleanSet("phone", r.Phones, vals.Phone)
	tags := r.Tags
	if tags != nil {
		cleaned, terrs := tag.Clean(tags, "tags")
		if len(terrs) > 0 {
			return contact.Values{}, nil, source.State{}, terrs.Err()
		}
		tags = cleaned
		if tags == nil {
			tags = []string{}
		}
	}
	st.Tags = cleanSet("", tags, nil)
	for _, set := range sets[:2] {
		for _, v := range *set.get(&st) {
			if len([]rune(v)) > 320 {
				return contact.Values{}, nil, source.State{}, db.Invalid(set.name, "%q is too long", v)
			}
		}
	}
	return vals, canon, st, nil
}

// addCustom adds custom values to a state's values, as text under customFields.<key>.
func addCustom(values map[string]string, custom contact.CustomValues) {
	for k, v := range custom {
		if t := contactfile.CustomText(v); t != "" {
			values[contact.CustomPrefix+k] = t
		}
	}
}

// contactValues are a contact's values as a state has them: its fields and custom values.
func contactValues(c *contact.Contact) map[string]string {
	out := valuesMap(&c.Values)
	addCustom(out, c.Custom)
	return out
}

// customNames are the custom field names (customFields.<key>) of states' values, sorted.
func customNames(states ...map[string]string) []string {
	seen := map[string]bool{}
	for _, st := range states {
		for k := range st {
			if strings.HasPrefix(k, contact.CustomPrefix) {
				seen[k] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

func valuesMap(v *contact.Values) map[string]string {
	out := map[string]string{}
	for _, f := range contact.Fields {
		if p := f.Get(v); p != nil {
			out[f.Name] = *p
		}
	}
	return out
}

// localState is a contact's state projected on what base carries: its fields and custom
// values, and its alternates and tags where base's record carries them.
func localState(c *contact.Contact, alts []contact.Alternate, tags []string, carries source.State) source.State {
	st := source.State{Values: contactValues(c)}
	if carries.Emails != nil || carries.Phones != nil {
		var emails, phones []string
		for _, a := range alts {
			if a.Kind == "email" {
				emails = append(emails, a.Value)
			} else {
				phones = append(phones, a.Value)
			}
		}
		if carries.Emails != nil {
			st.Emails = cleanSet("email", append([]string{}, emails...), c.Email)
		}
		if carries.Phones != nil {
			st.Phones = cleanSet("phone", append([]string{}, phones...), c.Phone)
		}
	}
	if carries.Tags != nil {
		st.Tags = cleanSet("", append([]string{}, tags...), nil)
	}
	return st
}

// stateHash hashes a state and whether the record is deleted. A state without sets hashes as
// a record's values did before sets existed, so that links synced then are not re-imported.
func stateHash(st source.State, deleted bool) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "deleted=%t\n", deleted)
	for _, k := range slices.Sorted(maps.Keys(st.Values)) {
		b, _ := json.Marshal([2]string{k, st.Values[k]})
		h.Write(b)
		h.Write([]byte{'\n'})
	}
	for _, set := range sets {
		if vs := *set.get(&st); vs != nil {
			b, _ := json.Marshal(map[string][]string{set.name: vs})
			h.Write(b)
			h.Write([]byte{'\n'})
		}
	}
	return h.Sum(nil)
}

// mergeSet merges a set three ways: local, plus what remote added since base, minus what
// remote removed since base. Members changed on both sides cannot conflict: an addition and a
// removal of the same member on different sides cannot happen (it was in base or it was not).
func mergeSet(kind string, base, local, remote []string) []string {
	in := func(vs []string) map[string]bool {
		m := map[string]bool{}
		for _, v := range vs {
			m[setKey(kind, v)] = true
		}
		return m
	}
	b, r := in(base), in(remote)
	out := []string{}
	have := map[string]bool{}
	for _, v := range local {
		k := setKey(kind, v)
		if b[k] && !r[k] {
			continue // removed remotely
		}
		have[k] = true
		out = append(out, v)
	}
	for _, v := range remote {
		if k := setKey(kind, v); !b[k] && !have[k] {
			have[k] = true
			out = append(out, v)
		}
	}
	return cleanSet(kind, out, nil)
}
