package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// healthz says the process is up; it touches nothing else.
func (s *server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz says whether the service can serve: the database answers and its schema is current.
func (s *server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if s.ready != nil {
		if err := s.ready(ctx); err != nil {
			// The cause (an unreachable database, say) is for the operator's log, not the prober.
			logError(c, slog.LevelWarn, "not ready", slog.Any("err", err))
			writeProblem(c, http.StatusServiceUnavailable, "the service is not ready; the server log says why")
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
