package api

import (
	"net/http"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

type relationshipJSON struct {
	ID         uuid.UUID          `json:"id"`
	EntityType contact.EntityType `json:"entityType"`
	EntityID   uuid.UUID          `json:"entityId"`
	Role       string             `json:"role"`
	IsPrimary  bool               `json:"isPrimary"`
	CreatedAt  time.Time          `json:"createdAt"`
	RemovedAt  *time.Time         `json:"removedAt,omitempty"`
}

func toRelationshipJSON(r contact.Relationship) relationshipJSON {
	return relationshipJSON{r.ID, r.EntityType, r.EntityID, r.Role, r.IsPrimary, r.CreatedAt, r.RemovedAt}
}

// readRelationship reads {type|entityType, entityId, role, isPrimary}.
func readRelationship(o *object) contact.NewRelationship {
	typ, entityType := o.str("type"), o.str("entityType")
	if typ.Set && entityType.Set && !typ.Null && !entityType.Null && typ.Value != entityType.Value {
		o.bad("entityType", "says %q but type says %q: send one of them", entityType.Value, typ.Value)
	}
	typeField := "type"
	if !typ.Set || typ.Null {
		typ = entityType
		if _, sent := o.m["entityType"]; sent {
			// Errors about the value name the field the client sent it in.
			typeField = "entityType"
		}
	}
	r := contact.NewRelationship{
		EntityType: typ.Value,
		EntityID:   o.str("entityId").Value,
		Role:       o.str("role").Value,
		IsPrimary:  o.boolean("isPrimary").Value,
		TypeField:  typeField,
	}
	o.rejectUnknown()
	return r
}

func (s *server) addRelationship(c *gin.Context) {
	id, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	o := readBody(c)
	if o == nil {
		return
	}
	in := readRelationship(o)
	if !o.finish(c) {
		return
	}
	rel, err := s.app.Relations.AddRelationship(c.Request.Context(), id, in)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/api/contacts/"+id.String()+"/relationships/"+rel.ID.String())
	c.JSON(http.StatusCreated, toRelationshipJSON(*rel))
}

func (s *server) listRelationships(c *gin.Context) {
	id, ok := pathID(c, "contactId", "contact")
	if !ok {
		return
	}
	history, ok := boolQuery(c, "history")
	if !ok {
		return
	}
	rels, err := s.app.Relations.ListRelationships(c.Request.Context(), id, history)
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]relationshipJSON, 0, len(rels))
	for _, r := range rels {
		data = append(data, toRelationshipJSON(r))
	}
	c.JSON(http.StatusOK, gin.H{"data": data})
}

// updateRelationship changes the role and primary flag of a current relationship; the answer
// is its new current version, which has a new id (the old one stays in the history).
func (s *server) updateRelationship(c *gin.Context) {
	id, relID, ok := relationshipPath(c)
	if !ok {
		return
	}
	o := readBody(c)
	if o == nil {
		return
	}
	u := contact.RelationshipUpdate{Role: o.str("role"), IsPrimary: o.boolean("isPrimary")}
	o.rejectUnknown()
	if !o.finishWith(c, u.Validate) {
		return
	}
	rel, err := s.app.Relations.UpdateRelationship(c.Request.Context(), id, relID, u)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toRelationshipJSON(*rel))
}

func (s *server) removeRelationship(c *gin.Context) {
	id, relID, ok := relationshipPath(c)
	if !ok {
		return
	}
	if err := s.app.Relations.RemoveRelationship(c.Request.Context(), id, relID); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// relationshipPath reads the contact and relationship ids of a relationship's route.
func relationshipPath(c *gin.Context) (contactID, relID uuid.UUID, ok bool) {
	if contactID, ok = pathID(c, "contactId", "contact"); !ok {
		return
	}
	relID, ok = pathID(c, "relationshipId", "relationship")
	return
}
