package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/contactd/contactd/sync/source"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

type sourceJSON struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Name   string          `json:"name"`
	Config json.RawMessage `json:"config"`
	// Secrets names the secrets set; their values are write-only.
	Secrets         []string   `json:"secrets"`
	Direction       string     `json:"direction"`
	ConflictPolicy  string     `json:"conflictPolicy"`
	Schedule        *string    `json:"schedule"`
	PropagateMerges bool       `json:"propagateMerges"`
	NextRunAt       *time.Time `json:"nextRunAt"`
	Version         int64      `json:"version"`
	CreatedAt       time.Time  `json:"createdAt"`
	UpdatedAt       time.Time  `json:"updatedAt"`
}

func toSourceJSON(s *source.Source) sourceJSON {
	var sched *string
	if s.Schedule > 0 {
		v := s.Schedule.String()
		sched = &v
	}
	return sourceJSON{ID: s.ID.String(), Type: s.Type, Name: s.Name, Config: s.Config, Secrets: s.SecretNames,
		Direction: string(s.Direction), ConflictPolicy: string(s.ConflictPolicy), Schedule: sched,
		PropagateMerges: s.PropagateMerges, NextRunAt: s.NextDueAt, Version: s.Version, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

type syncRunJSON struct {
	ID         string            `json:"id"`
	SourceID   string            `json:"sourceId"`
	Status     string            `json:"status"`
	Full       bool              `json:"full"`
	AllowEmpty bool              `json:"allowEmpty"`
	Pulled     int64             `json:"pulled"`
	Created    int64             `json:"created"`
	Updated    int64             `json:"updated"`
	Linked     int64             `json:"linked"`
	Deleted    int64             `json:"deleted"`
	Pushed     int64             `json:"pushed"`
	Conflicts  int64             `json:"conflicts"`
	Errors     []source.RunError `json:"errors"`
	// ConflictLog are the run's conflict decisions (the first 100).
	ConflictLog []source.Conflict `json:"conflictLog"`
	Requests    int64             `json:"requests"`
	QueuedAt    time.Time         `json:"queuedAt"`
	StartedAt   *time.Time        `json:"startedAt"`
	FinishedAt  *time.Time        `json:"finishedAt"`
}

func toSyncRunJSON(r *source.Run) syncRunJSON {
	errs := r.Stats.Errors
	if errs == nil {
		errs = []source.RunError{}
	}
	st := r.Stats
	conflicts := st.ConflictLog
	if conflicts == nil {
		conflicts = []source.Conflict{}
	}
	return syncRunJSON{ID: r.ID.String(), SourceID: r.SourceID.String(), Status: string(r.Status), Full: r.Full, AllowEmpty: r.AllowEmpty,
		ConflictLog: conflicts,
		Pulled:      st.Pulled, Created: st.Created, Updated: st.Updated, Linked: st.Linked, Deleted: st.Deleted, Pushed: st.Pushed,
		Conflicts: st.Conflicts, Errors: errs, Requests: st.Requests, QueuedAt: r.QueuedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
}

// readSourceFields reads the fields a create and an update share.
func readSourceFields(o *object) (name, direction, policy, schedule *string, cfg json.RawMessage, propagate *bool) {
	opt := func(key string) *string {
		v := o.str(key)
		if !v.Set {
			return nil
		}
		s := v.Value // null is "" (a null schedule is manual only)
		return &s
	}
	name, direction, policy, schedule = opt("name"), opt("direction"), opt("conflictPolicy"), opt("schedule")
	if v, key, ok := o.raw("config"); ok {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v, &m); err != nil || m == nil {
			o.bad(key, "must be an object")
		} else {
			cfg = v
		}
	}
	if b := o.boolean("propagateMerges"); b.Set {
		propagate = &b.Value
	}
	return
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (s *server) createSource(c *gin.Context) {
	o := readBody(c)
	if o == nil {
		return
	}
	typ := o.str("type")
	name, dir, policy, sched, cfg, prop := readSourceFields(o)
	o.rejectUnknown()
	if !o.finish(c) {
		return
	}
	in := source.NewSource{Type: typ.Value, Name: deref(name), Config: cfg, Direction: deref(dir),
		ConflictPolicy: deref(policy), Schedule: deref(sched), PropagateMerges: prop != nil && *prop}
	src, err := s.app.Sources.Create(c.Request.Context(), in)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/api/sources/"+src.ID.String())
	c.JSON(http.StatusCreated, toSourceJSON(src))
}

func (s *server) listSources(c *gin.Context) {
	srcs, err := s.app.Sources.List(c.Request.Context())
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]sourceJSON, 0, len(srcs))
	for _, src := range srcs {
		data = append(data, toSourceJSON(src))
	}
	c.JSON(http.StatusOK, gin.H{"data": data})
}

func (s *server) getSource(c *gin.Context) {
	id, ok := pathID(c, "id", "source")
	if !ok {
		return
	}
	src, err := s.app.Sources.Get(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toSourceJSON(src))
}

func (s *server) updateSource(c *gin.Context) {
	id, ok := pathID(c, "id", "source")
	if !ok {
		return
	}
	o := readBody(c)
	if o == nil {
		return
	}
	name, dir, policy, sched, cfg, prop := readSourceFields(o)
	o.rejectUnknown()
	if !o.finish(c) {
		return
	}
	src, err := s.app.Sources.Update(c.Request.Context(), id, source.Patch{Name: name, Config: cfg, Direction: dir,
		ConflictPolicy: policy, Schedule: sched, PropagateMerges: prop})
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toSourceJSON(src))
}

func (s *server) deleteSource(c *gin.Context) {
	id, ok := pathID(c, "id", "source")
	if !ok {
		return
	}
	if err := s.app.Sources.Delete(c.Request.Context(), id); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// startSync queues a run of the source (?full=true forgets its checkpoint; allowEmpty=true lets
// a full sync find a source that had records empty): 202 with the run's id, the run already
// queued or running when there is one.
func (s *server) startSync(c *gin.Context) {
	id, ok := pathID(c, "id", "source")
	if !ok {
		return
	}
	var opts source.RunOptions
	var bad []problemField
	for _, q := range []struct {
		name string
		to   *bool
	}{{"full", &opts.Full}, {"allowEmpty", &opts.AllowEmpty}} {
		if v, set := c.GetQuery(q.name); set {
			b, err := strconv.ParseBool(v)
			if err != nil {
				bad = append(bad, problemField{q.name, "must be true or false"})
				continue
			}
			*q.to = b
		}
	}
	if len(bad) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", bad...)
		return
	}
	run, _, err := s.app.Sources.StartRunWith(c.Request.Context(), id, opts)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/api/sources/"+id.String()+"/runs/"+run.ID.String())
	c.JSON(http.StatusAccepted, gin.H{"runId": run.ID.String(), "status": string(run.Status)})
}

func (s *server) listSyncRuns(c *gin.Context) {
	listChildren(c, "id", "source", s.app.Sources.ListRuns, toSyncRunJSON)
}

func (s *server) getSyncRun(c *gin.Context) {
	id, ok := pathID(c, "id", "source")
	if !ok {
		return
	}
	runID, ok := pathID(c, "runId", "run")
	if !ok {
		return
	}
	r, err := s.app.Sources.GetRun(c.Request.Context(), id, runID)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toSyncRunJSON(r))
}

type contactSourceJSON struct {
	SourceID string    `json:"sourceId"`
	RemoteID string    `json:"remoteId"`
	SyncedAt time.Time `json:"syncedAt"`
}

// contactSources returns the contact's sync links, as GET /api/contacts/{id} shows them.
func (s *server) contactSources(c *gin.Context, id uuid.UUID) ([]contactSourceJSON, error) {
	links, err := s.app.Sources.LinksOf(c.Request.Context(), []uuid.UUID{id})
	if err != nil {
		return nil, err
	}
	out := make([]contactSourceJSON, 0, len(links[id]))
	for _, l := range links[id] {
		out = append(out, contactSourceJSON{SourceID: l.SourceID.String(), RemoteID: l.RemoteID, SyncedAt: l.SyncedAt})
	}
	return out, nil
}
