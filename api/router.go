package api

import (
	"cmp"
	"context"
	"log/slog"
	"math"
	"net/http"
	"strings"

	"github.com/contactd/contactd/auth"
	"github.com/contactd/contactd/internal/app"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config is what the router needs.
type Config struct {
	// App is every domain store the handlers call.
	App *app.App
	// Ready reports whether the service can serve: database reachable, schema current.
	Ready func(ctx context.Context) error
	// Logger receives the access log and every internal error, with its request id.
	Logger *slog.Logger
	// MaxBodyBytes caps request bodies (default 1 MiB).
	MaxBodyBytes int64
	// Registry receives the HTTP metrics and is served on /metrics (default: a new registry).
	Registry *prometheus.Registry
	// MaxUploadBytes caps an import upload (default 1 GiB).
	MaxUploadBytes int64
	// DefaultRegion is the phone region of imports that name none (default US).
	DefaultRegion string
	// RateLimit is the requests a second each API key may send on average (a token bucket per
	// key in this process); zero means no limit.
	RateLimit float64
	// RateBurst is how many requests a key may send at once before RateLimit applies (default:
	// one second's worth, at least 1).
	RateBurst int
	// RiverUI, when set, is River's job UI (riverui, started, with prefix /riverui): it is
	// served under /riverui/ to admin-scope keys only.
	RiverUI http.Handler
	// PublicURL is where clients reach the service, for the links it hands out (default
	// http://localhost:8080).
	PublicURL string
}

type server struct {
	app   *app.App
	ready func(ctx context.Context) error
	keys  keyCache

	limiter *rateLimiter

	maxUpload     int64
	defaultRegion string
	publicURL     string
}

func init() { gin.SetMode(gin.ReleaseMode) }

// NewRouter returns the HTTP handler of the whole API.
func NewRouter(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.MaxUploadBytes == 0 {
		cfg.MaxUploadBytes = 1 << 30
	}
	if cfg.DefaultRegion == "" {
		cfg.DefaultRegion = "US"
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://localhost:8080"
	}
	s := &server{app: cfg.App, ready: cfg.Ready, maxUpload: cfg.MaxUploadBytes, defaultRegion: cfg.DefaultRegion,
		publicURL: strings.TrimRight(cfg.PublicURL, "/")}
	if cfg.RateLimit > 0 {
		s.limiter = newRateLimiter(cfg.RateLimit, cmp.Or(cfg.RateBurst, int(math.Ceil(cfg.RateLimit))))
	}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	r.Use(requestID(), recovery(cfg.Logger), accessLog(cfg.Logger), metrics(cfg.Registry), limitBody(cfg.MaxBodyBytes), rejectMalformedQuery())
	r.NoRoute(func(c *gin.Context) { writeProblem(c, http.StatusNotFound, "no such route") })
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, http.StatusMethodNotAllowed, "the route does not take this method")
	})

	r.GET("/healthz", s.healthz)
	r.HEAD("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.HEAD("/readyz", s.readyz)
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{})))
	r.GET("/openapi.yaml", serveOpenAPI)
	// RFC 8058 one-click unsubscribe: the signed token is the credential.
	r.POST("/unsubscribe/:token", s.unsubscribe)

	if cfg.RiverUI != nil {
		// A browser UI: the admin key comes as a bearer token (an operator's proxy adds it).
		ui := gin.WrapH(cfg.RiverUI)
		r.Any("/riverui", s.authenticate, s.rateLimit, require(auth.ScopeAdmin), ui)
		r.Any("/riverui/*path", s.authenticate, s.rateLimit, require(auth.ScopeAdmin), ui)
	}

	a := r.Group("/api", s.authenticate, s.rateLimit, s.idempotent)
	read, write := require(auth.ScopeRead), require(auth.ScopeWrite)

	a.POST("/contacts", write, s.createContact)
	a.GET("/contacts", read, s.listContacts)
	a.GET("/contacts/export", read, s.exportContacts)
	a.GET("/contacts/:contactId", read, s.getContact)
	a.PUT("/contacts/:contactId", write, s.updateContact)
	a.PATCH("/contacts/:contactId", write, s.updateContact)
	a.DELETE("/contacts/:contactId", write, s.archiveContact)
	a.GET("/contacts/:contactId/audit", read, s.contactAudit)
	a.GET("/contacts/:contactId/export", read, s.exportPerson)
	a.POST("/contacts/:contactId/relationships", write, s.addRelationship)
	a.GET("/contacts/:contactId/relationships", read, s.listRelationships)
	a.PATCH("/contacts/:contactId/relationships/:relationshipId", write, s.updateRelationship)
	a.DELETE("/contacts/:contactId/relationships/:relationshipId", write, s.removeRelationship)
	a.POST("/contacts/batch", write, s.batchContacts)
	a.POST("/contacts/:contactId/tags", write, s.addTags)
	a.DELETE("/contacts/:contactId/tags/:tag", write, s.removeTag)
	a.POST("/contacts/tags", write, s.bulkTags)
	a.GET("/tags", read, s.listTags)
	a.PATCH("/tags/:name", write, s.renameTag)
	a.DELETE("/tags/:name", write, s.deleteTag)
	a.POST("/groups", write, s.createGroup)
	a.GET("/groups", read, s.listGroups)
	a.GET("/groups/:id", read, s.getGroup)
	a.PATCH("/groups/:id", write, s.updateGroup)
	a.DELETE("/groups/:id", write, s.deleteGroup)
	a.POST("/groups/:id/members", write, s.addGroupMembers)
	a.DELETE("/groups/:id/members/:contactId", write, s.removeGroupMember)
	a.GET("/groups/:id/contacts", read, s.groupContacts)
	a.POST("/contacts/:contactId/communications", write, s.recordCommunication)
	a.GET("/contacts/:contactId/communications", read, s.listCommunications)
	a.GET("/contacts/:contactId/timeline", read, s.timeline)
	a.POST("/contacts/:contactId/consents", write, s.recordConsent)
	a.GET("/contacts/:contactId/consents", read, s.listConsents)
	a.POST("/contacts/:contactId/opt-out", write, s.optOut)
	a.GET("/contacts/:contactId/unsubscribe-link", read, s.unsubscribeLink)
	a.GET("/contacts/:contactId/reachability", read, s.reachability)
	a.POST("/reachability", write, s.bulkReachability)
	a.GET("/purposes", read, s.listPurposes)
	a.POST("/purposes", write, s.createPurpose)
	a.GET("/purposes/:name", read, s.getPurpose)
	a.POST("/contacts/merge", write, s.mergeContacts)
	a.GET("/merges", read, s.listMerges)
	a.GET("/merges/:id", read, s.getMerge)
	a.POST("/merges/:id/undo", write, s.undoMerge)

	a.POST("/imports", write, s.createImport)
	a.GET("/imports", read, s.listImports)
	a.GET("/imports/:id", read, s.getImport)
	a.POST("/imports/:id/cancel", write, s.cancelImport)

	a.GET("/duplicates", read, s.listDuplicates)
	a.GET("/duplicates/:id", read, s.getDuplicate)
	a.POST("/duplicates/:id/merge", write, s.mergeDuplicate)
	a.POST("/duplicates/:id/dismiss", write, s.dismissDuplicate)
	a.GET("/dedupe/runs", read, s.listDedupeRuns)
	a.POST("/dedupe/runs", write, s.startDedupeRun)
	a.GET("/dedupe/runs/:id", read, s.getDedupeRun)

	a.POST("/sources", write, s.createSource)
	a.GET("/sources", read, s.listSources)
	a.GET("/sources/:id", read, s.getSource)
	a.PATCH("/sources/:id", write, s.updateSource)
	a.DELETE("/sources/:id", write, s.deleteSource)
	a.POST("/sources/:id/sync", write, s.startSync)
	a.GET("/sources/:id/runs", read, s.listSyncRuns)
	a.GET("/sources/:id/runs/:runId", read, s.getSyncRun)

	a.POST("/retention-policies", write, s.createRetentionPolicy)
	a.GET("/retention-policies", read, s.listRetentionPolicies)
	a.GET("/retention-policies/:id", read, s.getRetentionPolicy)
	a.PATCH("/retention-policies/:id", write, s.updateRetentionPolicy)
	a.DELETE("/retention-policies/:id", write, s.deleteRetentionPolicy)
	a.POST("/retention-policies/:id/run", write, s.runRetentionPolicy)
	a.GET("/retention-policies/:id/runs", read, s.listRetentionRuns)
	a.GET("/retention-policies/:id/runs/:runId", read, s.getRetentionRun)

	a.GET("/changes", read, s.listChanges)
	a.POST("/webhooks", write, s.createWebhook)
	a.GET("/webhooks", read, s.listWebhooks)
	a.GET("/webhooks/:id", read, s.getWebhook)
	a.PATCH("/webhooks/:id", write, s.updateWebhook)
	a.DELETE("/webhooks/:id", write, s.deleteWebhook)
	a.GET("/webhooks/:id/deliveries", read, s.listDeliveries)
	a.POST("/webhooks/:id/deliveries/:deliveryId/retry", write, s.retryDelivery)

	a.POST("/users", write, s.createUser)
	a.GET("/users", read, s.listUsers)
	a.GET("/users/:id", read, s.getUser)
	a.POST("/accounts", write, s.createAccount)
	a.GET("/accounts", read, s.listAccounts)
	a.GET("/accounts/:id", read, s.getAccount)
	a.PATCH("/accounts/:id", write, s.updateAccount)

	a.POST("/fields", write, s.createField)
	a.GET("/fields", read, s.listFields)
	a.GET("/fields/:key", read, s.getField)
	a.PATCH("/fields/:key", write, s.updateField)
	a.DELETE("/fields/:key", write, s.deleteField)
	return r
}
