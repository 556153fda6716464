package api

import (
	"net/http"
	"net/url"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/group"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// groupJSON is a group as the API shows it.
type groupJSON struct {
	ID        uuid.UUID      `json:"id"`
	Name      string         `json:"name"`
	Kind      string         `json:"kind"`
	Filter    map[string]any `json:"filter"`
	CreatedAt time.Time      `json:"createdAt"`
	UpdatedAt time.Time      `json:"updatedAt"`
}

func toGroupJSON(g *group.Group) groupJSON {
	out := groupJSON{ID: g.ID, Name: g.Name, Kind: g.Kind, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
	if g.Filter != nil {
		out.Filter = map[string]any{}
		for k, v := range g.Filter {
			if len(v) == 1 {
				out.Filter[k] = v[0]
			} else {
				out.Filter[k] = v
			}
		}
	}
	return out
}

// readGroup reads {name, filter}; the filter (a smart group's) is checked by the store.
func readGroup(o *object) (contact.Opt[string], url.Values) {
	name, filter := o.str("name"), readFilterValues(o, "filter")
	for _, k := range contact.UnknownParams(filter) {
		*o.unknown = append(*o.unknown, problemField{o.field("filter." + k), "is not a filter of the list"})
	}
	return name, filter
}

// createGroup is POST /api/groups {name, filter?}: a smart group with a filter, else static.
func (s *server) createGroup(c *gin.Context) {
	o := readBody(c)
	if o == nil {
		return
	}
	name, filter := readGroup(o)
	if !name.Set || name.Null {
		o.bad("name", "is required")
	}
	o.rejectUnknown()
	if !o.finish(c) {
		return
	}
	g, err := s.app.Groups.Create(c.Request.Context(), name.Value, filter)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/api/groups/"+g.ID.String())
	c.JSON(http.StatusCreated, toGroupJSON(g))
}

func (s *server) listGroups(c *gin.Context) {
	gs, err := s.app.Groups.List(c.Request.Context())
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]groupJSON, len(gs))
	for i, g := range gs {
		data[i] = toGroupJSON(g)
	}
	c.JSON(http.StatusOK, gin.H{"data": data})
}

func (s *server) getGroup(c *gin.Context) {
	id, ok := pathID(c, "id", "group")
	if !ok {
		return
	}
	g, err := s.app.Groups.Get(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toGroupJSON(g))
}

// updateGroup is PATCH /api/groups/{id} {name?, filter?}.
func (s *server) updateGroup(c *gin.Context) {
	id, ok := pathID(c, "id", "group")
	if !ok {
		return
	}
	o := readBody(c)
	if o == nil {
		return
	}
	name, filter := readGroup(o)
	if name.Null {
		o.bad("name", "must not be null")
	}
	o.rejectUnknown()
	if !o.finish(c) {
		return
	}
	var newName *string
	if name.Set {
		newName = &name.Value
	}
	g, err := s.app.Groups.Update(c.Request.Context(), id, newName, filter)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toGroupJSON(g))
}

func (s *server) deleteGroup(c *gin.Context) {
	id, ok := pathID(c, "id", "group")
	if !ok {
		return
	}
	if err := s.app.Groups.Delete(c.Request.Context(), id); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// addGroupMembers is POST /api/groups/{id}/members {contactIds}.
func (s *server) addGroupMembers(c *gin.Context) {
	id, ok := pathID(c, "id", "group")
	if !ok {
		return
	}
	o := readBody(c)
	if o == nil {
		return
	}
	ids := o.uuids("contactIds", "contact")
	if _, _, present := o.raw("contactIds"); !present {
		o.bad("contactIds", "is required")
	}
	o.rejectUnknown()
	if !o.finish(c) {
		return
	}
	added, err := s.app.Groups.AddMembers(c.Request.Context(), id, ids)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"added": added})
}

func (s *server) removeGroupMember(c *gin.Context) {
	id, ok := pathID(c, "id", "group")
	if !ok {
		return
	}
	contactID, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	if err := s.app.Groups.RemoveMember(c.Request.Context(), id, contactID); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// groupContacts is GET /api/groups/{id}/contacts: the list with group=id (and its other
// parameters).
func (s *server) groupContacts(c *gin.Context) {
	id, ok := pathID(c, "id", "group")
	if !ok {
		return
	}
	if _, err := s.app.Groups.Get(c.Request.Context(), id); err != nil {
		writeError(c, err)
		return
	}
	if c.Query("group") != "" {
		writeProblem(c, http.StatusBadRequest, "the query has unknown parameters", problemField{"group", "is the path's group here"})
		return
	}
	q := c.Request.URL.Query()
	q.Set("group", id.String())
	c.Request.URL.RawQuery = q.Encode()
	s.listContacts(c)
}
