package carddav

import (
	"slices"
	"strings"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/contactfile"
	"github.com/contactd/contactd/sync/syncengine"
	"github.com/emersion/go-vcard"
)

// newCard is the card of a contact created remotely: vCard 3.0, which every server takes.
func newCard(uid string) vcard.Card {
	card := vcard.Card{}
	card.SetValue(vcard.FieldVersion, "3.0")
	card.SetValue(vcard.FieldUID, uid)
	return card
}

// apply sets a card's modelled properties to a write's. A property whose value the card
// already has is left as it is (its parameters and group too); every property contactd does
// not model is kept. REV is set to now.
func apply(card vcard.Card, w *syncengine.Write, now time.Time) {
	cur := mapCard(card)
	v4 := strings.HasPrefix(card.Value(vcard.FieldVersion), "4")
	first, last := w.Values["firstName"], w.Values["lastName"]
	if first != cur.values["firstName"] || last != cur.values["lastName"] || card.Get(vcard.FieldName) == nil {
		n := nameComponents(card)
		n[0], n[1] = component(last), component(first)
		if f := card.Get(vcard.FieldName); f != nil {
			f.Value = strings.Join(n, ";")
			card[vcard.FieldName] = card[vcard.FieldName][:1]
		} else {
			card.SetValue(vcard.FieldName, strings.Join(n, ";"))
		}
		fn := strings.Join(slices.DeleteFunc([]string{unescapeComponent(n[3]), first, unescapeComponent(n[2]), last, unescapeComponent(n[4])},
			func(s string) bool { return s == "" }), " ")
		setOne(card, vcard.FieldFormattedName, fn)
	}
	if card.Value(vcard.FieldFormattedName) == "" {
		// FN is required: the best name the card has.
		card.SetValue(vcard.FieldFormattedName, cmpOr(w.Values["company"], w.Values["email"], w.Values["phone"], "-"))
	}
	setMulti(card, vcard.FieldEmail, "mailto:", w.Values["email"], w.Emails, v4)
	setMulti(card, vcard.FieldTelephone, "tel:", w.Values["phone"], w.Phones, v4)
	if title := w.Values["title"]; title != cur.values["title"] {
		setOne(card, vcard.FieldTitle, title)
	}
	if company := w.Values["company"]; company != cur.values["company"] {
		comps := []string{""}
		if org := card.Value(vcard.FieldOrganization); org != "" {
			comps = contactfile.SplitComponents(org, ';')
		}
		comps[0] = component(company)
		org := strings.Join(comps, ";")
		if strings.Trim(org, ";") == "" {
			org = ""
		}
		setOne(card, vcard.FieldOrganization, org)
	}
	setAddress(card, w.Values, cur.values)
	// Custom fields: X-CONTACTD-<KEY> for each value the write has; one it lacks is removed.
	for name := range card {
		if key, ok := contactfile.CustomKey(name); ok {
			if _, keep := w.Values[contact.CustomPrefix+key]; !keep {
				delete(card, name)
			}
		}
	}
	for name, v := range w.Values {
		if key, ok := strings.CutPrefix(name, contact.CustomPrefix); ok && v != cur.values[name] {
			setOne(card, contactfile.CustomProperty(key), v)
		}
	}
	if w.Tags != nil && !sameSet(w.Tags, cur.tags) {
		delete(card, vcard.FieldCategories)
		for _, t := range w.Tags {
			if t = clean(t); t != "" {
				card.AddValue(vcard.FieldCategories, t)
			}
		}
	}
	card.SetRevision(now.UTC())
}

// setAddress writes the postal address of want into the card's preferred ADR when it differs
// from what the card has (cur), keeping the property's parameters (TYPE=home, PREF) and every
// other ADR: the street goes to the street component and the post office box and extended
// address are emptied (contactd's street holds them), or, for no address at all, every ADR
// is removed (another left would be read back as the address).
func setAddress(card vcard.Card, want, cur map[string]string) {
	same, empty := true, true
	for _, name := range addressFields {
		same = same && want[name] == cur[name]
		empty = empty && want[name] == ""
	}
	if same {
		return
	}
	if empty {
		// Every ADR goes: were only the preferred one removed, the next would be read back
		// as the contact's address.
		delete(card, vcard.FieldAddress)
		return
	}
	adr := preferred(card[vcard.FieldAddress])
	comps := []string{"", ""}
	for _, name := range addressFields {
		comps = append(comps, component(want[name]))
	}
	if adr == nil {
		card.AddValue(vcard.FieldAddress, strings.Join(comps, ";"))
		return
	}
	adr.Value = strings.Join(comps, ";")
}

func cmpOr(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// setOne sets a single-valued property, keeping its parameters; "" removes it.
func setOne(card vcard.Card, key, v string) {
	if v == "" {
		delete(card, key)
		return
	}
	if f := card.Get(key); f != nil {
		f.Value = v
		card[key] = card[key][:1]
		return
	}
	card.SetValue(key, v)
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, v := range a {
		if !slices.Contains(b, v) {
			return false
		}
	}
	return true
}

// setMulti sets a multi-valued property (EMAIL, TEL) to primary and then rest. rest nil means
// contactd does not know the card's other values: they are kept. A value the card has keeps
// its field (TYPE and group); a new primary takes the field of the one it replaces. The primary
// is marked preferred (PREF=1, or TYPE=pref in 3.0) when there are several.
func setMulti(card vcard.Card, key, uriPrefix, primary string, rest []string, v4 bool) {
	norm := func(f *vcard.Field) string { return clean(strings.TrimPrefix(f.Value, uriPrefix)) }
	curVals := ordered(card[key], func(v string) string { return strings.TrimPrefix(v, uriPrefix) })
	oldPrimary := ""
	if len(curVals) > 0 {
		oldPrimary = curVals[0]
	}
	if rest == nil {
		rest = []string{}
		for _, v := range curVals {
			if v != oldPrimary && v != primary {
				rest = append(rest, v)
			}
		}
	}
	want := []string{}
	for _, v := range append([]string{primary}, rest...) {
		if v = clean(v); v != "" && !slices.Contains(want, v) {
			want = append(want, v)
		}
	}
	if slices.Equal(want, curVals) {
		return
	}
	byValue := map[string]*vcard.Field{}
	for _, f := range card[key] {
		if _, ok := byValue[norm(f)]; !ok {
			byValue[norm(f)] = f
		}
	}
	var fields []*vcard.Field
	for i, v := range want {
		f := byValue[v]
		if f == nil && i == 0 && primary != "" && !slices.Contains(want, oldPrimary) {
			f = byValue[oldPrimary] // the replaced primary's field keeps its TYPE
		}
		if f == nil {
			f = &vcard.Field{}
		} else if strings.HasPrefix(f.Value, uriPrefix) {
			v = uriPrefix + v
		}
		f.Value = v
		unprefer(f)
		fields = append(fields, f)
	}
	if len(fields) > 1 && primary != "" {
		if f := fields[0]; v4 {
			if f.Params == nil {
				f.Params = vcard.Params{}
			}
			f.Params.Set("PREF", "1")
		} else {
			if f.Params == nil {
				f.Params = vcard.Params{}
			}
			f.Params.Add("TYPE", "pref")
		}
	}
	if len(fields) == 0 {
		delete(card, key)
		return
	}
	card[key] = fields
}

// unprefer removes a field's preference marks.
func unprefer(f *vcard.Field) {
	for k, vs := range f.Params {
		switch strings.ToUpper(k) {
		case "PREF":
			delete(f.Params, k)
		case "TYPE":
			var kept []string
			for _, v := range vs {
				var ts []string
				for _, t := range strings.Split(v, ",") {
					if !strings.EqualFold(strings.TrimSpace(t), "pref") {
						ts = append(ts, t)
					}
				}
				if len(ts) > 0 {
					kept = append(kept, strings.Join(ts, ","))
				}
			}
			if len(kept) == 0 {
				delete(f.Params, k)
			} else {
				f.Params[k] = kept
			}
		}
	}
}
