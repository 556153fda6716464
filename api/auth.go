package api

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/contactd/contactd/auth"
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
	key, err := s.keys.authenticate(c.Request.Context(), s.app.Auth, strings.TrimSpace(token))
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
func require(scope auth.Scope) gin.HandlerFunc {
	return func(c *gin.Context) {
		key, _ := c.Get(apiKeyKey)
		if k, ok := key.(*auth.APIKey); !ok || !k.Allows(scope) {
			writeProblem(c, http.StatusForbidden, "this API key lacks the "+string(scope)+" scope")
			return
		}
		c.Next()
	}
}

// keyCacheTTL is how long an authenticated key is trusted without asking the database again: a
// revoked key stops working within this time.
const keyCacheTTL = 5 * time.Second

// keyCache saves the database round trip of authenticating every request.
type keyCache struct {
	mu      sync.Mutex
	entries map[[32]byte]cachedKey
}

type cachedKey struct {
	key     *auth.APIKey
	expires time.Time
}

func (k *keyCache) authenticate(ctx context.Context, store *auth.Store, token string) (*auth.APIKey, error) {
	h := sha256.Sum256([]byte(token))
	now := time.Now()
	k.mu.Lock()
	e, ok := k.entries[h]
	k.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.key, nil
	}
	key, err := store.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	if k.entries == nil || len(k.entries) > 10000 {
		k.entries = map[[32]byte]cachedKey{}
	}
	k.entries[h] = cachedKey{key: key, expires: now.Add(keyCacheTTL)}
	k.mu.Unlock()
	return key, nil
}
