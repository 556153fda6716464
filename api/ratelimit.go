package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/contactd/contactd/auth"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"golang.org/x/time/rate"
)

// rateLimiter keeps a token bucket per API key in this process's memory: each key may send
// limit requests a second on average and burst of them at once. With N processes behind a
// load balancer a key may send up to N times as many.
type rateLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[uuid.UUID]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

// idleBucket is how long a key's bucket is kept after its last request; a bucket idle that long
// is full again, so forgetting it changes nothing.
const idleBucket = 10 * time.Minute

func newRateLimiter(perSecond float64, burst int) *rateLimiter {
	return &rateLimiter{limit: rate.Limit(perSecond), burst: max(burst, 1), buckets: map[uuid.UUID]*bucket{}}
}

// wait returns how long key must wait before its next request may be served: zero when it may
// be served now (a token is taken), else the time until a token is free (none is taken).
func (r *rateLimiter) wait(key uuid.UUID, now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.swept) > idleBucket {
		for k, b := range r.buckets {
			if now.Sub(b.used) > idleBucket {
				delete(r.buckets, k)
			}
		}
		r.swept = now
	}
	b := r.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(r.limit, r.burst)}
		r.buckets[key] = b
	}
	b.used = now
	res := b.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}

// rateLimit answers 429 with Retry-After (whole seconds) when the request's API key is over its
// rate; nil limiter means no limit. It runs after authenticate.
func (s *server) rateLimit(c *gin.Context) {
	if s.limiter == nil {
		c.Next()
		return
	}
	key, _ := c.Get(apiKeyKey)
	k, ok := key.(*auth.APIKey)
	if !ok {
		c.Next()
		return
	}
	if d := s.limiter.wait(k.ID, time.Now()); d > 0 {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
		writeProblem(c, http.StatusTooManyRequests, "this API key is over its rate limit; retry after the Retry-After seconds")
		return
	}
	c.Next()
}
