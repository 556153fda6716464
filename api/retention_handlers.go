package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/contactd/contactd/retention"
	"github.com/gin-gonic/gin"
)

type retentionPolicyJSON struct {
	ID        string             `json:"id"`
	Name      string             `json:"name"`
	Action    string             `json:"action"`
	Filter    retention.Criteria `json:"filter"`
	Schedule  *string            `json:"schedule"`
	NextRunAt *time.Time         `json:"nextRunAt"`
	Version   int64              `json:"version"`
	CreatedAt time.Time          `json:"createdAt"`
	UpdatedAt time.Time          `json:"updatedAt"`
}

func toRetentionPolicyJSON(p *retention.Policy) retentionPolicyJSON {
	var sched *string
	if p.Schedule > 0 {
		v := p.Schedule.String()
		sched = &v
	}
	return retentionPolicyJSON{ID: p.ID.String(), Name: p.Name, Action: p.Action, Filter: p.Criteria, Schedule: sched,
		NextRunAt: p.NextDueAt, Version: p.Version, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

type retentionRunJSON struct {
	ID         string             `json:"id"`
	PolicyID   string             `json:"policyId"`
	Status     string             `json:"status"`
	Action     string             `json:"action"`
	Filter     retention.Criteria `json:"filter"`
	AsOf       *time.Time         `json:"asOf"`
	Matched    int64              `json:"matched"`
	Processed  int64              `json:"processed"`
	Error      *string            `json:"error"`
	QueuedAt   time.Time          `json:"queuedAt"`
	StartedAt  *time.Time         `json:"startedAt"`
	FinishedAt *time.Time         `json:"finishedAt"`
}

func toRetentionRunJSON(r *retention.Run) retentionRunJSON {
	return retentionRunJSON{ID: r.ID.String(), PolicyID: r.PolicyID.String(), Status: string(r.Status), Action: r.Action,
		Filter: r.Criteria, AsOf: r.AsOf, Matched: r.Matched, Processed: r.Processed, Error: r.Error, QueuedAt: r.QueuedAt,
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
}

// readRetentionFields reads the fields a create and an update share; a null filter is {}.
func readRetentionFields(o *object) (name, action, schedule *string, filter json.RawMessage) {
	opt := func(key string) *string {
		v := o.str(key)
		if !v.Set {
			return nil
		}
		s := v.Value // a null schedule is on demand only
		return &s
	}
	name, action, schedule = opt("name"), opt("action"), opt("schedule")
	if v, _, ok := o.raw("filter"); ok {
		filter = v
		if isNull(v) {
			filter = json.RawMessage(`{}`)
		}
	}
	return
}

func (s *server) createRetentionPolicy(c *gin.Context) {
	o := readBody(c)
	if o == nil {
		return
	}
	name, action, sched, filter := readRetentionFields(o)
	o.rejectUnknown()
	if !o.finish(c) {
		return
	}
	p, err := s.app.Retention.Create(c.Request.Context(), retention.NewPolicy{Name: deref(name), Action: deref(action),
		Filter: filter, Schedule: deref(sched)})
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/api/retention-policies/"+p.ID.String())
	c.JSON(http.StatusCreated, toRetentionPolicyJSON(p))
}

func (s *server) listRetentionPolicies(c *gin.Context) {
	ps, err := s.app.Retention.List(c.Request.Context())
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]retentionPolicyJSON, 0, len(ps))
	for _, p := range ps {
		data = append(data, toRetentionPolicyJSON(p))
	}
	c.JSON(http.StatusOK, gin.H{"data": data})
}

func (s *server) getRetentionPolicy(c *gin.Context) {
	id, ok := pathID(c, "id", "retention policy")
	if !ok {
		return
	}
	p, err := s.app.Retention.Get(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toRetentionPolicyJSON(p))
}

func (s *server) updateRetentionPolicy(c *gin.Context) {
	id, ok := pathID(c, "id", "retention policy")
	if !ok {
		return
	}
	o := readBody(c)
	if o == nil {
		return
	}
	name, action, sched, filter := readRetentionFields(o)
	o.rejectUnknown()
	if !o.finish(c) {
		return
	}
	p, err := s.app.Retention.Update(c.Request.Context(), id, retention.Patch{Name: name, Action: action, Filter: filter, Schedule: sched})
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toRetentionPolicyJSON(p))
}

func (s *server) deleteRetentionPolicy(c *gin.Context) {
	id, ok := pathID(c, "id", "retention policy")
	if !ok {
		return
	}
	if err := s.app.Retention.Delete(c.Request.Context(), id); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// runRetentionPolicy answers ?dryRun=true with what a run would change now; otherwise it
// queues a run (202 with its id, the run already queued or running when there is one).
func (s *server) runRetentionPolicy(c *gin.Context) {
	id, ok := pathID(c, "id", "retention policy")
	if !ok {
		return
	}
	dry := false
	if v, set := c.GetQuery("dryRun"); set {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", problemField{"dryRun", "must be true or false"})
			return
		}
		dry = b
	}
	if dry {
		r, err := s.app.Retention.DryRun(c.Request.Context(), id)
		if err != nil {
			writeError(c, err)
			return
		}
		ids := make([]string, len(r.ContactIDs))
		for i, cid := range r.ContactIDs {
			ids[i] = cid.String()
		}
		c.JSON(http.StatusOK, gin.H{"matched": r.Matched, "contactIds": ids})
		return
	}
	run, _, err := s.app.Retention.StartRun(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/api/retention-policies/"+id.String()+"/runs/"+run.ID.String())
	c.JSON(http.StatusAccepted, gin.H{"runId": run.ID.String(), "status": string(run.Status)})
}

func (s *server) listRetentionRuns(c *gin.Context) {
	listChildren(c, "id", "retention policy", s.app.Retention.ListRuns, toRetentionRunJSON)
}

func (s *server) getRetentionRun(c *gin.Context) {
	id, ok := pathID(c, "id", "retention policy")
	if !ok {
		return
	}
	runID, ok := pathID(c, "runId", "run")
	if !ok {
		return
	}
	r, err := s.app.Retention.GetRun(c.Request.Context(), id, runID)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toRetentionRunJSON(r))
}
