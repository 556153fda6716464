package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/internal/db"
	"github.com/contactd/contactd/matcher"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// contactJSON is a contact as the API shows it.
type contactJSON struct {
	ID            uuid.UUID            `json:"id"`
	FirstName     *string              `json:"firstName"`
	LastName      *string              `json:"lastName"`
	Email         *string              `json:"email"`
	Phone         *string              `json:"phone"`
	Title         *string              `json:"title"`
	Company       *string              `json:"company"`
	Street        *string              `json:"street"`
	City          *string              `json:"city"`
	Region        *string              `json:"region"`
	PostalCode    *string              `json:"postalCode"`
	Country       *string              `json:"country"`
	Status        contact.Status       `json:"status"`
	MergedInto    *uuid.UUID           `json:"mergedInto"`
	Preferences   preferencesJSON      `json:"preferences"`
	Relationships []relationshipJSON   `json:"relationships"`
	Tags          []string             `json:"tags"`
	Type          contact.ContactType  `json:"type"`
	CustomFields  contact.CustomValues `json:"customFields"`
	Extra         map[string]any       `json:"extra"`
	Normalized    normalizedJSON       `json:"normalized"`
	Version       int64                `json:"version"`
	CreatedAt     time.Time            `json:"createdAt"`
	UpdatedAt     time.Time            `json:"updatedAt"`
	// Score is the search relevance, present only in a search's results.
	Score *float64 `json:"score,omitempty"`
}

type preferencesJSON struct {
	CommunicationMethods []string            `json:"communicationMethods"`
	Notifications        notificationsJSON   `json:"notifications"`
	Frequency            *string             `json:"frequency"`
	TimeZone             *string             `json:"timeZone"`
	QuietHours           *contact.QuietHours `json:"quietHours"`
}

type notificationsJSON struct {
	Email *bool `json:"email"`
	SMS   *bool `json:"sms"`
}

type normalizedJSON struct {
	Email          *string    `json:"email"`
	Phone          *string    `json:"phone"`
	PhoneExtension *string    `json:"phoneExtension"`
	PhoneValid     *bool      `json:"phoneValid"`
	At             *time.Time `json:"at"`
}

func toContactJSON(c *contact.Contact) contactJSON {
	methods := c.Preferences.CommunicationMethods
	if methods == nil {
		methods = []string{}
	}
	tags := c.Tags
	if tags == nil {
		tags = []string{}
	}
	rels := make([]relationshipJSON, 0, len(c.Relationships))
	for _, r := range c.Relationships {
		rels = append(rels, toRelationshipJSON(r))
	}
	return contactJSON{
		ID: c.ID, FirstName: c.FirstName, LastName: c.LastName, Email: c.Email, Phone: c.Phone,
		Title: c.Title, Company: c.Company, Street: c.Street, City: c.City, Region: c.Region, PostalCode: c.PostalCode,
		Country: c.Country, Status: c.Status, MergedInto: c.MergedInto,
		Preferences: preferencesJSON{CommunicationMethods: methods, Notifications: notificationsJSON{
			Email: c.Preferences.Notifications.Email, SMS: c.Preferences.Notifications.SMS},
			Frequency: c.Preferences.Frequency, TimeZone: c.Preferences.TimeZone, QuietHours: c.Preferences.QuietHours},
		Relationships: rels, Tags: tags,
		Normalized: normalizedJSON{Email: c.Normalized.Email, Phone: c.Normalized.Phone,
			PhoneExtension: c.Normalized.PhoneExtension, PhoneValid: c.Normalized.PhoneValid, At: c.Normalized.At},
		Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		Type: c.Type(), CustomFields: customFieldsOf(c), Extra: extraOf(c),
	}
}

// readPreferences reads a preferences patch: {communicationMethods, notifications: {email, sms},
// frequency, timeZone, quietHours: {start, end}}.
func readPreferences(o *object) *contact.PreferencesPatch {
	p, null := o.child("preferences")
	if null {
		// null resets every preference.
		return &contact.PreferencesPatch{
			CommunicationMethods: contact.Opt[[]string]{Set: true, Null: true},
			NotifyEmail:          contact.Opt[bool]{Set: true, Null: true},
			NotifySMS:            contact.Opt[bool]{Set: true, Null: true},
			Frequency:            contact.Opt[string]{Set: true, Null: true},
			TimeZone:             contact.Opt[string]{Set: true, Null: true},
			QuietHours:           contact.Opt[contact.QuietHours]{Set: true, Null: true},
		}
	}
	if p == nil {
		return nil
	}
	patch := &contact.PreferencesPatch{CommunicationMethods: p.strings("communicationMethods"),
		Frequency: p.str("frequency"), TimeZone: p.str("timeZone")}
	if q, null := p.child("quietHours"); q != nil {
		patch.QuietHours = contact.Some(contact.QuietHours{Start: q.str("start").Value, End: q.str("end").Value})
		q.rejectUnknown()
	} else if null {
		patch.QuietHours = contact.Opt[contact.QuietHours]{Set: true, Null: true}
	}
	if n, null := p.child("notifications"); n != nil {
		patch.NotifyEmail, patch.NotifySMS = n.boolean("email"), n.boolean("sms")
		n.rejectUnknown()
	} else if null {
		patch.NotifyEmail = contact.Opt[bool]{Set: true, Null: true}
		patch.NotifySMS = contact.Opt[bool]{Set: true, Null: true}
	}
	p.rejectUnknown()
	return patch
}

func (s *server) createContact(c *gin.Context) {
	o := readBody(c)
	if o == nil {
		return
	}
	in := contact.NewContact{Preferences: readPreferences(o)}
	for _, f := range contact.Fields {
		*f.Input(&in) = o.str(f.Name).Value
	}
	for _, r := range o.children("relationships") {
		in.Relationships = append(in.Relationships, readRelationship(r))
	}
	in.Tags = readTags(o, "tags").Value
	in.Consented = s.readCreateConsent(o)
	in.Custom = readCustom(o)
	in.Type = o.str("type").Value
	o.rejectUnknown()
	if !o.finishWith(c, in.Validate) {
		return
	}
	allow, ok := boolQuery(c, "allowDuplicate")
	if !ok {
		return
	}
	in.AllowDuplicate = allow
	switch c.Query("dedupe") {
	case "":
	case "check":
		s.checkDuplicates(c, in)
		return
	default:
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", problemField{"dedupe", "must be check"})
		return
	}
	created, err := s.app.Contacts.CreateContact(c.Request.Context(), in)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/api/contacts/"+created.ID.String())
	c.Header("ETag", etag(created.Version))
	c.JSON(http.StatusCreated, toContactJSON(created))
}

func (s *server) getContact(c *gin.Context) {
	id, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	got, err := s.app.Contacts.GetContact(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	sources, err := s.contactSources(c, got.ID)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("ETag", etag(got.Version))
	c.JSON(http.StatusOK, contactWithSourcesJSON{toContactJSON(got), sources})
}

// contactWithSourcesJSON is a contact as GET /api/contacts/{id} shows it: with the sources it
// is linked to.
type contactWithSourcesJSON struct {
	contactJSON
	Sources []contactSourceJSON `json:"sources"`
}

func (s *server) updateContact(c *gin.Context) {
	id, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	o := readBody(c)
	if o == nil {
		return
	}
	u := contact.Update{Preferences: readPreferences(o)}
	for _, f := range contact.Fields {
		*f.Update(&u) = o.str(f.Name)
	}
	u.Tags = readTags(o, "tags")
	u.Custom = readCustom(o)
	u.Type = o.str("type")
	o.rejectUnknown()
	if !o.finishWith(c, u.Validate) {
		return
	}
	allow, ok := boolQuery(c, "allowDuplicate")
	if !ok {
		return
	}
	u.AllowDuplicate = allow
	if im := c.GetHeader("If-Match"); im != "" && strings.TrimSpace(im) != "*" {
		v, ok := parseETag(im)
		if !ok {
			writeProblem(c, http.StatusPreconditionFailed, "If-Match does not name a version of this contact")
			return
		}
		u.IfVersion = v
	}
	updated, err := s.app.Contacts.UpdateContact(c.Request.Context(), id, u)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("ETag", etag(updated.Version))
	c.JSON(http.StatusOK, toContactJSON(updated))
}

func (s *server) archiveContact(c *gin.Context) {
	id, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	erase, ok := boolQuery(c, "erase")
	if !ok {
		return
	}
	if erase {
		s.eraseContact(c, id)
		return
	}
	if err := s.app.Contacts.ArchiveContact(c.Request.Context(), id); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// listFilter reads the filters shared by the list, the export, bulk tagging and smart groups
// (contact.ParseFilter). A parameter that is neither a filter nor one of also answers 400
// naming it; an invalid value 422 naming it. It reports false when it has answered.
func (s *server) listFilter(c *gin.Context, also ...string) (contact.Filter, []problemField, bool) {
	q := c.Request.URL.Query()
	unknown := contact.UnknownParams(q, also...)
	unknownCustom, err := s.app.Contacts.UnknownCustomParams(c.Request.Context(), q)
	if err != nil {
		writeError(c, err)
		return contact.Filter{}, nil, false
	}
	if unknown = append(unknown, unknownCustom...); len(unknown) > 0 {
		fields := make([]problemField, len(unknown))
		for i, name := range unknown {
			fields[i] = problemField{name, "is not a filter or parameter of this endpoint"}
		}
		writeProblem(c, http.StatusBadRequest, "the query has unknown parameters", fields...)
		return contact.Filter{}, nil, false
	}
	f, ferrs := contact.ParseFilter(q)
	errs := make([]problemField, 0, len(ferrs))
	for _, e := range ferrs {
		errs = append(errs, problemField{e.Field, e.Message})
	}
	if len(errs) == 0 {
		if err := s.app.Groups.Resolve(c.Request.Context(), &f); err != nil {
			if fields := fieldsOf(err); len(fields) > 0 {
				return f, fields, true
			}
			writeError(c, err)
			return f, nil, false
		}
	}
	return f, errs, true
}

func (s *server) listContacts(c *gin.Context) {
	f, errs, ok := s.listFilter(c, "limit", "cursor", "sort")
	if !ok {
		return
	}
	p, perrs, refused := listPage(c, f)
	errs = append(errs, perrs...)
	if refused != nil {
		writeProblem(c, http.StatusBadRequest, "the cursor belongs to another sort", *refused)
		return
	}
	if len(errs) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", errs...)
		return
	}
	list, err := s.app.Contacts.ListContacts(c.Request.Context(), f, p)
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]contactJSON, 0, len(list.Contacts))
	for i, ct := range list.Contacts {
		j := toContactJSON(ct)
		if list.Scores != nil {
			j.Score = &list.Scores[i]
		}
		data = append(data, j)
	}
	c.JSON(http.StatusOK, gin.H{"data": data, "nextCursor": list.Next.Encode()})
}

// listPage reads limit, sort and cursor. A cursor made for another sort is returned apart
// (refused: 400), an unreadable one is an invalid field (422).
func listPage(c *gin.Context, f contact.Filter) (contact.Page, []problemField, *problemField) {
	limit, errs := limitParam(c)
	p := contact.Page{Limit: limit}
	sort, err := contact.ParseSort(c.Query("sort"), f.Q != "")
	if err != nil {
		errs = append(errs, fieldsOf(err)...)
		return p, errs, nil
	}
	p.Sort = sort
	if cur := c.Query("cursor"); cur != "" {
		after, err := contact.DecodeCursor(cur, sort)
		if err != nil {
			fields := fieldsOf(err)
			if strings.Contains(err.Error(), "another sort") {
				return p, errs, &fields[0]
			}
			errs = append(errs, fields...)
		}
		p.After = after
	}
	return p, errs, nil
}

// fieldsOf returns the invalid fields of a domain error.
func fieldsOf(err error) []problemField {
	var out []problemField
	var e *db.Error
	if errors.As(err, &e) {
		for _, f := range e.Fields {
			out = append(out, problemField{f.Field, f.Message})
		}
	}
	return out
}

type auditJSON struct {
	ID         int64                     `json:"id"`
	At         time.Time                 `json:"at"`
	Actor      string                    `json:"actor"`
	Action     string                    `json:"action"`
	EntityType string                    `json:"entityType"`
	EntityID   uuid.UUID                 `json:"entityId"`
	Changes    map[string]contact.Change `json:"changes"`
}

// contactAudit lists the audit trail of a contact, oldest first, paged by entry id.
func (s *server) contactAudit(c *gin.Context) {
	id, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	limit, errs := limitParam(c)
	var after int64
	if cur := c.Query("cursor"); cur != "" {
		v, err := strconv.ParseInt(cur, 10, 64)
		if err != nil || v < 0 {
			errs = append(errs, problemField{"cursor", "is not a cursor this endpoint gave"})
		}
		after = v
	}
	if len(errs) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", errs...)
		return
	}
	if _, err := s.app.Contacts.GetContact(c.Request.Context(), id); err != nil {
		writeError(c, err)
		return
	}
	entries, err := s.app.Contacts.AuditTrail(c.Request.Context(), id, after, limit+1)
	if err != nil {
		writeError(c, err)
		return
	}
	var next *string
	if len(entries) > limit {
		entries = entries[:limit]
		n := strconv.FormatInt(entries[len(entries)-1].ID, 10)
		next = &n
	}
	data := make([]auditJSON, 0, len(entries))
	for _, e := range entries {
		data = append(data, auditJSON{e.ID, e.At, e.Actor, e.Action, e.EntityType, e.EntityID, e.Changes})
	}
	c.JSON(http.StatusOK, gin.H{"data": data, "nextCursor": next})
}

func etag(version int64) string { return fmt.Sprintf(`"%d"`, version) }

// parseETag reads a version from an If-Match value such as "3", W/"3" or 3.
func parseETag(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	s = strings.Trim(s, `"`)
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil && v > 0
}

func boolQuery(c *gin.Context, name string) (bool, bool) {
	v, present := c.GetQuery(name)
	if !present || v == "" {
		return false, true
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", problemField{name, "must be true or false"})
		return false, false
	}
	return b, true
}

type matchJSON struct {
	ContactID   uuid.UUID           `json:"contactId"`
	Score       float64             `json:"score"`
	Weight      float64             `json:"weight"`
	Decision    string              `json:"decision"`
	Explanation matcher.Explanation `json:"explanation"`
}

// checkDuplicates answers the likely matches of a contact that is not created: the active
// contacts the matcher calls the same person or possibly the same, best first, with scores.
func (s *server) checkDuplicates(c *gin.Context, in contact.NewContact) {
	candidate := &contact.Contact{Values: in.Values()}
	matches, err := s.app.Engine.CheckRecord(c.Request.Context(), candidate)
	if err != nil {
		writeError(c, err)
		return
	}
	out := make([]matchJSON, 0, len(matches))
	for _, m := range matches {
		out = append(out, matchJSON{ContactID: m.ContactID, Score: m.Probability, Weight: m.Weight, Decision: m.Decision.String(), Explanation: m.Explanation})
	}
	c.JSON(http.StatusOK, gin.H{"matches": out})
}
