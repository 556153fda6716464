package api

import (
	"net/http"
	"time"

	"github.com/contactd/contactd/contact"
	"github.com/contactd/contactd/relationship"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

type userJSON struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	Email     *string   `json:"email"`
	CreatedAt time.Time `json:"createdAt"`
}

type accountJSON struct {
	ID        uuid.UUID  `json:"id"`
	Name      string     `json:"name"`
	Domain    *string    `json:"domain"`
	CreatedAt time.Time  `json:"createdAt"`
	ParentID  *uuid.UUID `json:"parentId"`
}

func (s *server) createUser(c *gin.Context) {
	o := readBody(c)
	if o == nil {
		return
	}
	name, email := o.str("name").Value, o.str("email").Value
	o.rejectUnknown()
	if !o.finish(c) {
		return
	}
	u, err := s.app.Relations.CreateUser(c.Request.Context(), name, email)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/api/users/"+u.ID.String())
	c.JSON(http.StatusCreated, userJSON(*u))
}

func (s *server) getUser(c *gin.Context) {
	id, ok := pathID(c, "id", "user")
	if !ok {
		return
	}
	u, err := s.app.Relations.GetUser(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, userJSON(*u))
}

func (s *server) listUsers(c *gin.Context) {
	limit, after, errs := pageParams(c)
	if len(errs) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", errs...)
		return
	}
	users, next, err := s.app.Relations.ListUsers(c.Request.Context(), after, limit)
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]userJSON, 0, len(users))
	for _, u := range users {
		data = append(data, userJSON(u))
	}
	c.JSON(http.StatusOK, gin.H{"data": data, "nextCursor": encodeCursor(next)})
}

func (s *server) createAccount(c *gin.Context) {
	o := readBody(c)
	if o == nil {
		return
	}
	name, domain := o.str("name").Value, o.str("domain").Value
	parent := readParentID(o)
	o.rejectUnknown()
	if !o.finish(c) {
		return
	}
	var parentID *uuid.UUID
	if parent.Set && !parent.Null {
		parentID = &parent.Value
	}
	a, err := s.app.Relations.CreateAccountIn(c.Request.Context(), name, domain, parentID)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Location", "/api/accounts/"+a.ID.String())
	c.JSON(http.StatusCreated, accountJSON(*a))
}

func (s *server) getAccount(c *gin.Context) {
	id, ok := pathID(c, "id", "account")
	if !ok {
		return
	}
	a, err := s.app.Relations.GetAccount(c.Request.Context(), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, accountJSON(*a))
}

func (s *server) listAccounts(c *gin.Context) {
	limit, after, errs := pageParams(c)
	if len(errs) > 0 {
		writeProblem(c, http.StatusUnprocessableEntity, "the query has invalid parameters", errs...)
		return
	}
	accounts, next, err := s.app.Relations.ListAccounts(c.Request.Context(), after, limit)
	if err != nil {
		writeError(c, err)
		return
	}
	data := make([]accountJSON, 0, len(accounts))
	for _, a := range accounts {
		data = append(data, accountJSON(a))
	}
	c.JSON(http.StatusOK, gin.H{"data": data, "nextCursor": encodeCursor(next)})
}

// readParentID reads an account's parentId: a UUID or null.
func readParentID(o *object) contact.Opt[uuid.UUID] {
	v := o.str("parentId")
	if !v.Set || v.Null {
		return contact.Opt[uuid.UUID]{Set: v.Set, Null: v.Null}
	}
	id, err := uuid.Parse(v.Value)
	if err != nil {
		o.bad("parentId", "must be an account id (UUID) or null")
		return contact.Opt[uuid.UUID]{}
	}
	return contact.Some(id)
}

func (s *server) updateAccount(c *gin.Context) {
	id, ok := pathID(c, "id", "account")
	if !ok {
		return
	}
	o := readBody(c)
	if o == nil {
		return
	}
	u := relationship.AccountUpdate{Name: o.str("name"), Domain: o.str("domain"), ParentID: readParentID(o)}
	if u.Name.Null {
		o.bad("name", "is required")
	}
	o.rejectUnknown()
	if !o.finish(c) {
		return
	}
	a, err := s.app.Relations.UpdateAccount(c.Request.Context(), id, u)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, accountJSON(*a))
}
