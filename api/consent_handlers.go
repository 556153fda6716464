package api

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/contactd/contactd/consent"
	"github.com/contactd/contactd/contact"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

type purposeJSON struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	OptIn       bool      `json:"optIn"`
	LawfulBases []string  `json:"lawfulBases"`
	CreatedAt   time.Time `json:"createdAt"`
}

func toPurposeJSON(p consent.Purpose) purposeJSON {
	return purposeJSON{p.Name, p.Description, p.OptIn, p.LawfulBases, p.CreatedAt}
}

type proofJSON struct {
	IP            *string `json:"ip"`
	UserAgent     *string `json:"userAgent"`
	NoticeVersion *string `json:"noticeVersion"`
}

type consentEventJSON struct {
	ID            uuid.UUID  `json:"id"`
	ContactID     uuid.UUID  `json:"contactId"`
	Channel       string     `json:"channel"`
	Purpose       string     `json:"purpose"`
	Status        string     `json:"status"`
	LawfulBasis   string     `json:"lawfulBasis"`
	Explanation   string     `json:"explanation"`
	Source        string     `json:"source"`
	CapturedAt    time.Time  `json:"capturedAt"`
	DoubleOptInAt *time.Time `json:"doubleOptInAt"`
	Proof         proofJSON  `json:"proof"`
	Actor         string     `json:"actor"`
	RecordedAt    time.Time  `json:"recordedAt"`
}

func toConsentEventJSON(e consent.Event) consentEventJSON {
	return consentEventJSON{ID: e.ID, ContactID: e.ContactID, Channel: e.Channel, Purpose: e.Purpose, Status: e.Status,
		LawfulBasis: e.LawfulBasis, Explanation: e.Explanation, Source: e.Source, CapturedAt: e.CapturedAt,
		DoubleOptInAt: e.DoubleOptInAt, Actor: e.Actor, RecordedAt: e.RecordedAt,
		Proof: proofJSON{contact.Nullable(e.Proof.IP), contact.Nullable(e.Proof.UserAgent), contact.Nullable(e.Proof.NoticeVersion)}}
}

func consentEventsJSON(evs []consent.Event) []consentEventJSON {
	out := make([]consentEventJSON, 0, len(evs))
	for _, e := range evs {
		out = append(out, toConsentEventJSON(e))
	}
	return out
}

type consentStateJSON struct {
	Channel     string    `json:"channel"`
	Purpose     string    `json:"purpose"`
	Status      string    `json:"status"`
	LawfulBasis string    `json:"lawfulBasis"`
	Source      string    `json:"source"`
	CapturedAt  time.Time `json:"capturedAt"`
	EventID     uuid.UUID `json:"eventId"`
	// ContactID is the record the deciding event was given on (a merged one, perhaps).
	ContactID uuid.UUID `json:"contactId"`
}

type answerJSON struct {
	ContactID     uuid.UUID  `json:"contactId"`
	Allowed       bool       `json:"allowed"`
	Reason        string     `json:"reason"`
	NextAllowedAt *time.Time `json:"nextAllowedAt,omitempty"`
}

func toAnswerJSON(a consent.Answer) answerJSON {
	return answerJSON{a.ContactID, a.Allowed, a.Reason, a.NextAllowedAt}
}

// timestamp reads an RFC 3339 time field.
func (o *object) timestamp(key string) *time.Time {
	v := o.str(key)
	if !v.Set || v.Null {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v.Value))
	if err != nil {
		o.bad(key, "must be an RFC 3339 time such as 2024-05-01T12:00:00Z")
		return nil
	}
	return &t
}

func (s *server) listPurposes(c *gin.Context) {
	ps, err := s.app.Consent.Purposes(c.Request.Context())
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]purposeJSON, 0, len(ps))
	for _, p := range ps {
		data = append(data, toPurposeJSON(p))
	}
	c.JSON(http.StatusOK, gin.H{"data": data})
}

func (s *server) getPurpose(c *gin.Context) {
	p, err := s.app.Consent.Purpose(c.Request.Context(), c.Param("name"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toPurposeJSON(*p))
}

func (s *server) createPurpose(c *gin.Context) {
	o := readBody(c)
	if o == nil {
		return
	}
	p := consent.Purpose{Name: o.str("name").Value, Description: o.str("description").Value,
		OptIn: o.boolean("optIn").Value, LawfulBases: o.strings("lawfulBases").Value}
	o.rejectUnknown()
	if !o.finishWith(c, p.Validate) {
		return
	}
	created, err := s.app.Consent.CreatePurpose(c.Request.Context(), p)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/api/purposes/"+created.Name)
	c.JSON(http.StatusCreated, toPurposeJSON(*created))
}

func (s *server) recordConsent(c *gin.Context) {
	id, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	o := readBody(c)
	if o == nil {
		return
	}
	in := readConsentEvent(o)
	if !o.finishWith(c, func() error { return in.Validate(time.Now()) }) {
		return
	}
	ev, err := s.app.Consent.RecordEvent(c.Request.Context(), id, in)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, toConsentEventJSON(*ev))
}

func (s *server) listConsents(c *gin.Context) {
	id, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	h, err := s.app.Consent.History(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	current := make([]consentStateJSON, 0, len(h.Current))
	for _, st := range h.Current {
		current = append(current, consentStateJSON{Channel: st.Channel, Purpose: st.Purpose, Status: st.Status,
			LawfulBasis: st.Event.LawfulBasis, Source: st.Event.Source, CapturedAt: st.Event.CapturedAt, EventID: st.Event.ID,
			ContactID: st.Event.ContactID})
	}
	c.JSON(http.StatusOK, gin.H{"contactId": h.ContactID, "current": current, "history": consentEventsJSON(h.Events)})
}

func (s *server) optOut(c *gin.Context) {
	id, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	var channel, purpose string
	// An empty body opts out of everything, as {} does.
	if c.Request.ContentLength != 0 {
		o := readBody(c)
		if o == nil {
			return
		}
		channel, purpose = o.str("channel").Value, o.str("purpose").Value
		o.rejectUnknown()
		if !o.finish(c) {
			return
		}
	}
	evs, err := s.app.Consent.OptOut(c.Request.Context(), id, channel, purpose, consent.SourceAPI)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"data": consentEventsJSON(evs)})
}

func (s *server) unsubscribeLink(c *gin.Context) {
	id, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	var errs []problemField
	channel, purpose := queryText(c, "channel", 20, &errs), queryText(c, "purpose", 64, &errs)
	if len(errs) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", errs...)
		return
	}
	token, err := s.app.Consent.UnsubscribeToken(c.Request.Context(), id, channel, purpose)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"url": s.publicURL + "/unsubscribe/" + token, "token": token})
}

// unsubscribe is the RFC 8058 one-click endpoint: no authentication, the signed token is the
// credential, and the body must be List-Unsubscribe=One-Click.
func (s *server) unsubscribe(c *gin.Context) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, 1024))
	if err != nil {
		writeProblem(c, http.StatusBadRequest, "the body could not be read")
		return
	}
	if strings.TrimSpace(string(body)) != "List-Unsubscribe=One-Click" {
		writeProblem(c, http.StatusBadRequest, "the body must be List-Unsubscribe=One-Click (RFC 8058)")
		return
	}
	if _, err := s.app.Consent.Unsubscribe(c.Request.Context(), c.Param("token")); err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"unsubscribed": true})
}

func (s *server) reachability(c *gin.Context) {
	id, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	a, err := s.app.Consent.Reachable(c.Request.Context(), id, c.Query("channel"), c.Query("purpose"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toAnswerJSON(*a))
}

func (s *server) bulkReachability(c *gin.Context) {
	o := readBulkBody(c)
	if o == nil {
		return
	}
	ids, errs := o.contactIDs("contactIds")
	channel, purpose := o.str("channel").Value, o.str("purpose").Value
	o.rejectUnknown()
	if !o.finish(c) {
		return
	}
	if len(errs) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the body has invalid fields", errs...)
		return
	}
	as, err := s.app.Consent.ReachableMany(c.Request.Context(), ids, channel, purpose)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", appendAnswers(make([]byte, 0, 80*len(as)), as))
}

// contactIDs reads an array of contact ids: straight into uuids (10,000 of them in a bulk
// ask), and only when that fails item by item, to name the first 20 that are not ids.
func (o *object) contactIDs(key string) ([]uuid.UUID, []problemField) {
	v, name, ok := o.raw(key)
	if !ok || isNull(v) {
		return nil, nil
	}
	if ids, ok := parseIDArray(v); ok {
		return ids, nil
	}
	raw := o.strings(key)
	var errs []problemField
	ids := make([]uuid.UUID, 0, len(raw.Value))
	for i, s := range raw.Value {
		id, err := uuid.Parse(s)
		if err != nil {
			errs = append(errs, problemField{fmt.Sprintf("%s[%d]", name, i), "must be a contact id"})
			if len(errs) == 20 {
				break
			}
			continue
		}
		ids = append(ids, id)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return ids, nil
}

// parseIDArray reads a JSON array of plain id strings (no escapes) without encoding/json's
// reflection: 10,000 ids in a tenth of the time. Anything else is not ok, for the general path.
func parseIDArray(v []byte) ([]uuid.UUID, bool) {
	v = bytes.TrimSpace(v)
	if len(v) < 2 || v[0] != '[' || v[len(v)-1] != ']' {
		return nil, false
	}
	v = bytes.TrimSpace(v[1 : len(v)-1])
	ids := make([]uuid.UUID, 0, len(v)/39+1)
	for len(v) > 0 {
		if v[0] != '"' {
			return nil, false
		}
		end := bytes.IndexByte(v[1:], '"')
		if end < 0 {
			return nil, false
		}
		s := v[1 : 1+end]
		if bytes.IndexByte(s, '\\') >= 0 {
			return nil, false
		}
		id, err := uuid.ParseBytes(s)
		if err != nil {
			return nil, false
		}
		ids = append(ids, id)
		v = bytes.TrimSpace(v[2+end:])
		if len(v) == 0 {
			break
		}
		if v[0] != ',' {
			return nil, false
		}
		v = bytes.TrimSpace(v[1:])
		if len(v) == 0 {
			return nil, false
		}
	}
	return ids, true
}

// appendAnswers appends {"results": [...]} of the answers (answerJSON's form) to b: written by
// hand, a bulk answer of 10,000 costs a tenth of what reflection does.
func appendAnswers(b []byte, as []consent.Answer) []byte {
	b = append(b, `{"results":[`...)
	for i, a := range as {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"contactId":"`...)
		b = appendUUID(b, a.ContactID)
		b = append(b, `","allowed":`...)
		b = strconv.AppendBool(b, a.Allowed)
		b = append(b, `,"reason":`...)
		b = appendReason(b, a.Reason)
		if a.NextAllowedAt != nil {
			b = append(b, `,"nextAllowedAt":"`...)
			b = a.NextAllowedAt.AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// appendReason appends a reason as a JSON string: quoted as it is when it is a plain name (the
// reasons are), else through strconv.
func appendReason(b []byte, r string) []byte {
	for i := 0; i < len(r); i++ {
		if c := r[i]; (c < 'a' || c > 'z') && c != '_' {
			return strconv.AppendQuote(b, r)
		}
	}
	b = append(b, '"')
	b = append(b, r...)
	return append(b, '"')
}

// appendUUID appends id in its canonical form (8-4-4-4-12 hex digits).
func appendUUID(b []byte, id uuid.UUID) []byte {
	var buf [36]byte
	hex.Encode(buf[0:8], id[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], id[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], id[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], id[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], id[10:])
	return append(b, buf[:]...)
}

// queryText reads a text query parameter: trimmed, valid UTF-8 without control characters, at
// most max characters (else a problem field).
func queryText(c *gin.Context, name string, max int, errs *[]problemField) string {
	v := strings.TrimSpace(c.Query(name))
	if !utf8.ValidString(v) {
		*errs = append(*errs, problemField{name, "must be valid UTF-8"})
		return ""
	}
	if utf8.RuneCountInString(v) > max {
		*errs = append(*errs, problemField{name, fmt.Sprintf("must be at most %d characters", max)})
		return ""
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			*errs = append(*errs, problemField{name, "must not contain control characters"})
			return ""
		}
	}
	return v
}
