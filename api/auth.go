package api

import (
	"net/http"
	"strings"

	"github.com/contactd/contactd/contact"
	"github.com/gin-gonic/gin"
)

const apiKeyKey = "apiKey"

// authenticate requires a valid bearer token and audits the request's changes as its key.
func (s *server) authenticate(c *gin.Context) {
	h := c.GetHeader("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		writeProblem(c, http.StatusUnauthorized, "send an API key as Authorization: Bearer <token>")
		return
	}
	key, err := s.store.Authenticate(c.Request.Context(), strings.TrimSpace(token))
	if err != nil {
		writeError(c, err)
		return
	}
	c.Set(apiKeyKey, key)
	ctx := contact.WithActor(c.Request.Context(), "apikey:"+key.ID.String()+":"+key.Name)
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// require answers 403 unless the request's key carries scope.
func require(scope contact.Scope) gin.HandlerFunc {
	return func(c *gin.Context) {
		key, _ := c.Get(apiKeyKey)
		if k, ok := key.(*contact.APIKey); !ok || !k.Allows(scope) {
			writeProblem(c, http.StatusForbidden, "this API key lacks the "+string(scope)+" scope")
			return
		}
		c.Next()
	}
}
