package merge

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/google/uuid"
)

// Request asks for contacts to be merged into one survivor.
type Request struct {
	// ContactIDs are the contacts to merge: two or more distinct ones, or one besides SurvivorID.
	// They may include the survivor.
	ContactIDs []uuid.UUID
	// SurvivorID names the contact that stays; nil picks the oldest (smallest created_at, then
	// id) of the contacts.
	SurvivorID *uuid.UUID
	// FieldValues chooses, for a field (by its name in contact.Fields), the
	// contact whose value the survivor takes, overriding the survivorship rule.
	FieldValues map[string]uuid.UUID
	// ModelVersion is the matcher model that proposed the merge (automatic merges).
	ModelVersion *int
	// Score is the matcher's score of the merge, when it proposed it.
	Score *float64
}

// Merge is a stored merge: which contacts went into which survivor, who merged them and, once
// undone, when and what could not be restored.
type Merge struct {
	ID           uuid.UUID
	SurvivorID   uuid.UUID
	MergedIDs    []uuid.UUID
	Actor        string
	ModelVersion *int
	Score        *float64
	CreatedAt    time.Time
	UndoneAt     *time.Time
	UndoneBy     *string
	// UndoReport lists the values the undo could not restore (empty when everything was).
	UndoReport []string
}

// validate checks what can be checked without the database and returns the distinct contacts of
// the merge (the survivor included), in request order.
func (r Request) validate() ([]uuid.UUID, error) {
	var errs db.FieldErrors
	var ids []uuid.UUID
	for i, id := range r.ContactIDs {
		if id == uuid.Nil {
			errs.Add(fmt.Sprintf("contactIds[%d]", i), "must be a contact id")
			continue
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if r.SurvivorID != nil {
		if *r.SurvivorID == uuid.Nil {
			errs.Add("survivorId", "must be a contact id")
		} else if !slices.Contains(ids, *r.SurvivorID) {
			ids = append(ids, *r.SurvivorID)
		}
	}
	if len(ids) < 2 && len(errs) == 0 {
		errs.Add("contactIds", "must name at least two distinct contacts")
	}
	names := make([]string, 0, len(r.FieldValues))
	for name := range r.FieldValues {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		switch {
		case contact.FieldByName(name) == nil:
			errs.Add("fieldValues."+name, "is not a field a merge chooses (one of %s)", strings.Join(contact.FieldNames(), ", "))
		case !slices.Contains(ids, r.FieldValues[name]):
			errs.Add("fieldValues."+name, "must name one of the contacts being merged")
		}
	}
	if r.Score != nil && (math.IsNaN(*r.Score) || math.IsInf(*r.Score, 0)) {
		errs.Add("score", "must be a number")
	}
	return ids, errs.Err()
}

// survivorValues computes the survivor of a merge as it will be: each field takes its value by
// the field's survivorship rule, and fieldValues override it. Normalized forms follow the value
// they derive from. Consent never widens (see mergePreferences). contacts holds every contact
// of the merge.
func survivorValues(survivor *contact.Contact, contacts map[uuid.UUID]*contact.Contact, fieldValues map[string]uuid.UUID) *contact.Contact {
	others := make([]*contact.Contact, 0, len(contacts)-1)
	for id, c := range contacts {
		if id != survivor.ID {
			others = append(others, c)
		}
	}
	// Most recently updated first; the id breaks ties so the result does not depend on map order.
	slices.SortFunc(others, func(a, b *contact.Contact) int {
		return cmp.Or(b.UpdatedAt.Compare(a.UpdatedAt), cmp.Compare(b.ID.String(), a.ID.String()))
	})
	out := *survivor
	out.Preferences = survivor.Preferences.Clone()
	out.Relationships = nil
	// A contact named for one field of a group gives the group's other fields too.
	groupWinner := map[string]*contact.Contact{}
	for _, f := range contact.Fields {
		if id, ok := fieldValues[f.Name]; ok && f.Group != "" && groupWinner[f.Group] == nil {
			groupWinner[f.Group] = contacts[id]
		}
	}
	for _, f := range contact.Fields {
		winner := survivor
		if id, ok := fieldValues[f.Name]; ok {
			winner = contacts[id]
		} else if g := groupWinner[f.Group]; g != nil {
			winner = g
		} else if !hasValue(f, survivor) && f.Survivorship == contact.SurvivorFirst {
			for _, o := range others {
				if hasValue(f, o) {
					winner = o
					break
				}
			}
		}
		*f.Ptr(&out.Values) = f.Get(&winner.Values)
		switch f.Kind {
		case contact.KindEmail:
			out.Normalized.Email = winner.Normalized.Email
			if out.Normalized.Email == nil {
				out.Normalized.Email = contact.EmailKey(out.Email)
			}
		case contact.KindPhone:
			out.Normalized.Phone, out.Normalized.PhoneExtension, out.Normalized.PhoneValid =
				winner.Normalized.Phone, winner.Normalized.PhoneExtension, winner.Normalized.PhoneValid
		}
	}
	out.Preferences = mergePreferences(append([]*contact.Contact{survivor}, others...))
	for _, cf := range contact.CompositeFields {
		cf.Merge(&out, survivor, others)
	}
	return &out
}

// hasValue says whether c has a value for f: for a field of a group, any value of the group, so
// that the group's values come from one contact.
func hasValue(f *contact.Field, c *contact.Contact) bool {
	for _, g := range contact.Fields {
		if g == f || (f.Group != "" && g.Group == f.Group) {
			if v := g.Get(&c.Values); v != nil && *v != "" {
				return true
			}
		}
	}
	return false
}

// mergePreferences merges the preferences of contacts (the survivor first, then the others by
// recency) so that consent never widens:
//   - a notification flag that is false on any contact stays false; otherwise the first contact
//     that set it gives its value;
//   - communicationMethods are the methods every contact that chose methods allows, in the order
//     of the first such contact: a method one of them left out is an opt-out and stays one. When
//     none chose any, the survivor's (empty) choice stays;
//   - frequency is the least frequent any contact chose ("never" anywhere stays "never");
//   - the time zone and quiet hours are the first contact's that set them.
func mergePreferences(contacts []*contact.Contact) contact.Preferences {
	flag := func(get func(contact.Notifications) *bool) *bool {
		var first *bool
		for _, c := range contacts {
			v := get(c.Preferences.Notifications)
			if v == nil {
				continue
			}
			if !*v {
				f := false
				return &f
			}
			if first == nil {
				t := true
				first = &t
			}
		}
		return first
	}
	out := contact.Preferences{
		Notifications: contact.Notifications{
			Email: flag(func(n contact.Notifications) *bool { return n.Email }),
			SMS:   flag(func(n contact.Notifications) *bool { return n.SMS }),
		},
	}
	for _, c := range contacts {
		if f := c.Preferences.Frequency; f != nil && (out.Frequency == nil ||
			slices.Index(contact.Frequencies, *f) > slices.Index(contact.Frequencies, *out.Frequency)) {
			v := *f
			out.Frequency = &v
		}
		if out.TimeZone == nil && c.Preferences.TimeZone != nil {
			v := *c.Preferences.TimeZone
			out.TimeZone = &v
		}
		if out.QuietHours == nil && c.Preferences.QuietHours != nil {
			q := *c.Preferences.QuietHours
			out.QuietHours = &q
		}
	}
	var methods []string
	chosen := false
	for _, c := range contacts {
		if len(c.Preferences.CommunicationMethods) == 0 {
			continue
		}
		if !chosen {
			methods, chosen = slices.Clone(c.Preferences.CommunicationMethods), true
			continue
		}
		methods = slices.DeleteFunc(methods, func(m string) bool { return !slices.Contains(c.Preferences.CommunicationMethods, m) })
	}
	if chosen {
		out.CommunicationMethods = methods
		if out.CommunicationMethods == nil {
			out.CommunicationMethods = []string{}
		}
	} else {
		out.CommunicationMethods = slices.Clone(contacts[0].Preferences.CommunicationMethods)
	}
	return out
}
