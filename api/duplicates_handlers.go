package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/dedupe"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

type reviewJSON struct {
	ID           uuid.UUID       `json:"id"`
	Status       string          `json:"status"`
	Score        float64         `json:"score"`
	ModelVersion *int            `json:"modelVersion"`
	Contacts     []contactJSON   `json:"contacts"`
	Explanation  json.RawMessage `json:"explanation"`
	CreatedAt    time.Time       `json:"createdAt"`
	DecidedAt    *time.Time      `json:"decidedAt"`
	DecidedBy    *string         `json:"decidedBy"`
	MergeID      *uuid.UUID      `json:"mergeId"`
}

// reviewsJSON renders reviews with both contacts of each, reading every contact of the page
// in one go.
func (s *server) reviewsJSON(c *gin.Context, reviews ...*dedupe.Review) ([]reviewJSON, error) {
	ids := make([]uuid.UUID, 0, 2*len(reviews))
	for _, r := range reviews {
		ids = append(ids, r.ContactA, r.ContactB)
	}
	contacts, err := s.app.Contacts.GetContacts(c.Request.Context(), ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[uuid.UUID]*contact.Contact, len(contacts))
	for _, ct := range contacts {
		byID[ct.ID] = ct
	}
	out := make([]reviewJSON, 0, len(reviews))
	for _, r := range reviews {
		rj := reviewJSON{ID: r.ID, Status: r.Status, Score: r.Score, ModelVersion: r.ModelVersion, Explanation: r.Explanation,
			CreatedAt: r.CreatedAt, DecidedAt: r.DecidedAt, DecidedBy: r.DecidedBy, MergeID: r.MergeID, Contacts: []contactJSON{}}
		for _, id := range []uuid.UUID{r.ContactA, r.ContactB} {
			ct := byID[id]
			if ct == nil {
				// The foreign keys keep a review's contacts while it exists.
				return nil, fmt.Errorf("api: review %s: contact %s is missing", r.ID, id)
			}
			rj.Contacts = append(rj.Contacts, toContactJSON(ct))
		}
		out = append(out, rj)
	}
	return out, nil
}

func encodeReviewCursor(cur *dedupe.ReviewCursor) *string {
	if cur == nil {
		return nil
	}
	s := base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatFloat(cur.Score, 'g', -1, 64) + "|" + cur.ID.String()))
	return &s
}

func decodeReviewCursor(s string) (*dedupe.ReviewCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	score, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return nil, false
	}
	f, err1 := strconv.ParseFloat(score, 64)
	u, err2 := uuid.Parse(id)
	if err1 != nil || err2 != nil || math.IsNaN(f) {
		return nil, false
	}
	return &dedupe.ReviewCursor{Score: f, ID: u}, true
}

// listDuplicates lists review items, best first, with both contacts and the matcher's
// per-field explanation.
func (s *server) listDuplicates(c *gin.Context) {
	var errs []problemField
	status := c.DefaultQuery("status", "open")
	if !slices.Contains([]string{"open", "merged", "dismissed", "obsolete"}, status) {
		errs = append(errs, problemField{"status", "must be open, merged, dismissed or obsolete"})
	}
	limit, lerrs := limitParam(c)
	errs = append(errs, lerrs...)
	var after *dedupe.ReviewCursor
	if cur := c.Query("cursor"); cur != "" {
		var ok bool
		if after, ok = decodeReviewCursor(cur); !ok {
			errs = append(errs, problemField{"cursor", "is not a cursor this endpoint gave"})
		}
	}
	if len(errs) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", errs...)
		return
	}
	reviews, next, err := s.app.Dedupe.ListReviews(c.Request.Context(), status, after, limit)
	if err != nil {
		writeError(c, err)
		return
	}
	data, err := s.reviewsJSON(c, reviews...)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"data": data, "nextCursor": encodeReviewCursor(next)})
}

func (s *server) getDuplicate(c *gin.Context) {
	id, ok := pathID(c, "id", "duplicate review")
	if !ok {
		return
	}
	r, err := s.app.Dedupe.GetReview(c.Request.Context(), id)
	s.sendReview(c, r, err)
}

// mergeDuplicate merges an open review's pair, optionally choosing field values
// ({fieldValues: {field: contactId}}) and the survivor ({survivorId}, one of the pair); the body
// may be empty. The review is locked and checked open in the merge's own transaction, so that
// of two concurrent answers to it one wins and the other gets 409.
func (s *server) mergeDuplicate(c *gin.Context) {
	id, ok := pathID(c, "id", "duplicate review")
	if !ok {
		return
	}
	var fieldValues map[string]uuid.UUID
	var survivorID *uuid.UUID
	if c.Request.ContentLength != 0 {
		o := readBody(c)
		if o == nil {
			return
		}
		fieldValues = readFieldValues(o)
		if sid, ok := o.uuidField("survivorId"); ok {
			survivorID = &sid
		}
		o.rejectUnknown()
		if !o.finish(c) {
			return
		}
	}
	m, err := s.app.Engine.MergeReview(c.Request.Context(), id, fieldValues, survivorID)
	if err != nil {
		writeError(c, err)
		return
	}
	survivor, err := s.app.Contacts.GetContact(c.Request.Context(), m.SurvivorID)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"merge": toMergeJSON(m), "contact": toContactJSON(survivor)})
}

func (s *server) dismissDuplicate(c *gin.Context) {
	id, ok := pathID(c, "id", "duplicate review")
	if !ok {
		return
	}
	r, err := s.app.Dedupe.DismissReview(c.Request.Context(), id)
	s.sendReview(c, r, err)
}

// sendReview answers a review item, or the error that came instead of it.
func (s *server) sendReview(c *gin.Context, r *dedupe.Review, err error) {
	if err == nil {
		var rj []reviewJSON
		if rj, err = s.reviewsJSON(c, r); err == nil {
			c.JSON(http.StatusOK, rj[0])
			return
		}
	}
	writeError(c, err)
}

type runJSON struct {
	ID           uuid.UUID      `json:"id"`
	Status       string         `json:"status"`
	ModelVersion *int           `json:"modelVersion"`
	Stats        map[string]any `json:"stats"`
	Error        *string        `json:"error"`
	Actor        string         `json:"actor"`
	CreatedAt    time.Time      `json:"createdAt"`
	StartedAt    *time.Time     `json:"startedAt"`
	FinishedAt   *time.Time     `json:"finishedAt"`
}

func toRunJSON(r *dedupe.Run) runJSON {
	stats := r.Stats
	if stats == nil {
		stats = map[string]any{}
	}
	return runJSON{r.ID, r.Status, r.ModelVersion, stats, r.Error, r.Actor, r.CreatedAt, r.StartedAt, r.FinishedAt}
}

func (s *server) listDedupeRuns(c *gin.Context) {
	limit, before, errs := pageParams(c)
	if len(errs) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", errs...)
		return
	}
	runs, next, err := s.app.Dedupe.ListRuns(c.Request.Context(), before, limit)
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]runJSON, 0, len(runs))
	for _, r := range runs {
		data = append(data, toRunJSON(r))
	}
	c.JSON(http.StatusOK, gin.H{"data": data, "nextCursor": encodeCursor(next)})
}

func (s *server) getDedupeRun(c *gin.Context) {
	id, ok := pathID(c, "id", "dedupe run")
	if !ok {
		return
	}
	r, err := s.app.Dedupe.GetRun(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toRunJSON(r))
}

// startDedupeRun enqueues a full scan: 202 with the run.
func (s *server) startDedupeRun(c *gin.Context) {
	r, err := s.app.Dedupe.CreateRun(c.Request.Context())
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/api/dedupe/runs/"+r.ID.String())
	c.JSON(http.StatusAccepted, toRunJSON(r))
}
