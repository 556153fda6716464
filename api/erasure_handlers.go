package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/contactd/contactd/communication"
	"github.com/contactd/contactd/consent"
	"github.com/contactd/contactd/contact"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// eraseContact erases the person the contact is (Art. 17): DELETE /api/contacts/{id}?erase=true.
// It answers 204; erasing an erased contact answers 410 like every other request about it.
func (s *server) eraseContact(c *gin.Context, id uuid.UUID) {
	ctx := c.Request.Context()
	if err := contact.Require(ctx, s.app.DB.Pool, id, false); err != nil {
		writeError(c, err)
		return
	}
	if err := s.app.Erasure.Erase(ctx, []uuid.UUID{id}, contact.ActorFrom(ctx)); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// readConsentEvent reads a consent event's fields from o (POST /consents, and the consent a
// create carries).
func readConsentEvent(o *object) consent.NewEvent {
	in := consent.NewEvent{Channel: o.str("channel").Value, Purpose: o.str("purpose").Value, Status: o.str("status").Value,
		LawfulBasis: o.str("lawfulBasis").Value, Explanation: o.str("explanation").Value, Source: o.str("source").Value,
		DoubleOptInAt: o.timestamp("doubleOptInAt")}
	if at := o.timestamp("capturedAt"); at != nil {
		in.CapturedAt = *at
	}
	if p, _ := o.child("proof"); p != nil {
		in.Proof = consent.Proof{IP: p.str("ip").Value, UserAgent: p.str("userAgent").Value, NoticeVersion: p.str("noticeVersion").Value}
		p.rejectUnknown()
	}
	o.rejectUnknown()
	return in
}

// readCreateConsent reads the optional "consent" of a create: a new consent event (a grant)
// recorded with the contact in its transaction, which lets a suppressed person be created again
// and takes their email and phone off the suppression list. It returns nil without one; its
// invalid fields are o's, named consent.<field>.
func (s *server) readCreateConsent(o *object) func(context.Context, pgx.Tx, *contact.Contact) error {
	co, _ := o.child("consent")
	if co == nil {
		return nil
	}
	ev := readConsentEvent(co)
	if err := ev.Validate(time.Now()); err != nil {
		for _, f := range fieldsOf(err) {
			o.bad("consent."+f.Field, "%s", f.Message)
		}
	}
	if ev.Status != consent.Granted {
		o.bad("consent.status", "must be granted: only a new grant brings a suppressed person back")
	}
	path := o.path
	return func(ctx context.Context, tx pgx.Tx, c *contact.Contact) error {
		if _, err := s.app.Consent.RecordEventTx(ctx, tx, c.ID, ev); err != nil {
			return prefixFields(err, path+"consent.")
		}
		return s.app.Erasure.Suppressions.LiftTx(ctx, tx, c.Values, s.defaultRegion)
	}
}

// personExportJSON is everything contactd holds about a person (Art. 15 access, Art. 20
// portability), as one document.
type personExportJSON struct {
	ExportedAt time.Time `json:"exportedAt"`
	// Contact is the person's contact; Records are the contacts merged into it.
	Contact        contactJSON                  `json:"contact"`
	Records        []contactJSON                `json:"mergedRecords"`
	Extra          map[uuid.UUID]map[string]any `json:"extra"`
	Alternates     []alternateJSON              `json:"alternates"`
	Relationships  []relationshipJSON           `json:"relationships"`
	Groups         []groupMembershipJSON        `json:"groups"`
	Communications []*communicationJSON         `json:"communications"`
	Consent        consentExportJSON            `json:"consent"`
	Audit          []auditJSON                  `json:"audit"`
	Sources        sourcesExportJSON            `json:"sources"`
	Merges         []mergeJSON                  `json:"merges"`
}

type alternateJSON struct {
	ContactID  uuid.UUID  `json:"contactId"`
	Kind       string     `json:"kind"`
	Value      string     `json:"value"`
	Normalized *string    `json:"normalized"`
	From       *uuid.UUID `json:"fromContactId"`
}

type groupMembershipJSON struct {
	ContactID uuid.UUID `json:"contactId"`
	GroupID   uuid.UUID `json:"groupId"`
	Name      string    `json:"name"`
}

type consentExportJSON struct {
	Current []consentStateJSON `json:"current"`
	History []consentEventJSON `json:"history"`
}

type sourcesExportJSON struct {
	ExternalRefs []externalRefJSON `json:"externalRefs"`
	SyncLinks    []syncLinkJSON    `json:"syncLinks"`
}

type externalRefJSON struct {
	ContactID  uuid.UUID  `json:"contactId"`
	Source     string     `json:"source"`
	ExternalID string     `json:"externalId"`
	ImportID   *uuid.UUID `json:"importId"`
	CreatedAt  time.Time  `json:"createdAt"`
}

type syncLinkJSON struct {
	ContactID uuid.UUID `json:"contactId"`
	SourceID  uuid.UUID `json:"sourceId"`
	RemoteID  string    `json:"remoteId"`
	SyncedAt  time.Time `json:"syncedAt"`
}

// exportPerson answers GET /api/contacts/{id}/export: the person's document, as an attachment.
func (s *server) exportPerson(c *gin.Context) {
	id, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	doc, err := s.personExport(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="contact-`+doc.Contact.ID.String()+`.json"`)
	c.JSON(http.StatusOK, doc)
}

func (s *server) personExport(ctx context.Context, id uuid.UUID) (*personExportJSON, error) {
	p, err := s.app.Contacts.Person(ctx, id)
	if err != nil {
		return nil, err
	}
	ids := p.IDs()
	doc := &personExportJSON{ExportedAt: time.Now().UTC(), Contact: toContactJSON(p.Contacts[0]), Records: []contactJSON{},
		Extra: map[uuid.UUID]map[string]any{}, Alternates: []alternateJSON{}, Relationships: []relationshipJSON{},
		Groups: []groupMembershipJSON{}, Communications: []*communicationJSON{}, Audit: []auditJSON{}, Merges: []mergeJSON{},
		Sources: sourcesExportJSON{ExternalRefs: []externalRefJSON{}, SyncLinks: []syncLinkJSON{}}}
	for _, r := range p.Contacts[1:] {
		doc.Records = append(doc.Records, toContactJSON(r))
	}
	for cid, raw := range p.Extra {
		var m map[string]any
		if json.Unmarshal(raw, &m) == nil && len(m) > 0 {
			doc.Extra[cid] = m
		}
	}
	for _, a := range p.Alternates {
		doc.Alternates = append(doc.Alternates, alternateJSON(a))
	}
	for _, e := range p.Audit {
		doc.Audit = append(doc.Audit, auditJSON{e.ID, e.At, e.Actor, e.Action, e.EntityType, e.EntityID, e.Changes})
	}
	for _, cid := range ids {
		rels, err := s.app.Relations.ListRelationships(ctx, cid, true)
		if err != nil {
			return nil, err
		}
		for _, r := range rels {
			doc.Relationships = append(doc.Relationships, toRelationshipJSON(r))
		}
	}
	groups, err := s.app.Groups.MembershipsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		doc.Groups = append(doc.Groups, groupMembershipJSON(g))
	}
	for cur := (*communication.Cursor)(nil); ; {
		page, next, err := s.app.Communications.List(ctx, ids[0], cur, 500)
		if err != nil {
			return nil, err
		}
		for i := range page {
			doc.Communications = append(doc.Communications, toCommunicationJSON(&page[i]))
		}
		if next == nil {
			break
		}
		cur = next
	}
	h, err := s.app.Consent.History(ctx, ids[0])
	if err != nil {
		return nil, err
	}
	doc.Consent.Current = make([]consentStateJSON, 0, len(h.Current))
	for _, st := range h.Current {
		doc.Consent.Current = append(doc.Consent.Current, consentStateJSON{Channel: st.Channel, Purpose: st.Purpose, Status: st.Status,
			LawfulBasis: st.Event.LawfulBasis, Source: st.Event.Source, CapturedAt: st.Event.CapturedAt, EventID: st.Event.ID,
			ContactID: st.Event.ContactID})
	}
	doc.Consent.History = consentEventsJSON(h.Events)
	refs, err := s.app.Imports.RefsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		doc.Sources.ExternalRefs = append(doc.Sources.ExternalRefs, externalRefJSON(r))
	}
	links, err := s.app.Sources.LinksOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, cid := range ids {
		for _, l := range links[cid] {
			doc.Sources.SyncLinks = append(doc.Sources.SyncLinks, syncLinkJSON{ContactID: cid, SourceID: l.SourceID, RemoteID: l.RemoteID, SyncedAt: l.SyncedAt})
		}
	}
	merges, err := s.app.Merges.MergesOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, m := range merges {
		doc.Merges = append(doc.Merges, toMergeJSON(m))
	}
	return doc, nil
}
