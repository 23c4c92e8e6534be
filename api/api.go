// Package api serves the references Service as a JSON REST API over echo. It owns
// what is HTTP-specific (routes, status codes, the Bearer key check, rate limits,
// request logs) and no business rules: those are in references.
package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/internal/keylimit"
	"github.com/trackhook/trackhook/references"
)

// Defaults for Options.
const (
	DefaultBodyLimit = 64 << 10 // bytes
	DefaultRateLimit = rate.Limit(50)
	DefaultRateBurst = 100
	// Webhook secret rotations: 5 at once per account, then one every 12 s.
	DefaultRotationLimit = rate.Limit(1.0 / 12)
	DefaultRotationBurst = 5
	// Failed authentications: 20 at once per client address, then one every 6 s.
	DefaultAuthFailureLimit = rate.Limit(1.0 / 6)
	DefaultAuthFailureBurst = 20
)

// Backuper writes a consistent copy of the database to w. store.DB implements it.
type Backuper interface {
	Backup(ctx context.Context, w io.Writer) (int64, error)
}

// Options configures the API. The zero value is usable.
type Options struct {
	Logger *slog.Logger // default slog.Default()
	// BodyLimit caps request bodies in bytes (default DefaultBodyLimit);
	// BatchBodyLimit those of POST /references/batch (default DefaultBatchBodyLimit).
	BodyLimit      int64
	BatchBodyLimit int64
	// OwnBodyLimits are path prefixes of routes the caller adds that bound their
	// bodies themselves (carrier pushes, larger than the API's JSON, answered in the
	// formats of their standards): BodyLimit does not apply to them.
	OwnBodyLimits []string
	// RateLimit is the sustained requests per second allowed per API key (default
	// DefaultRateLimit); rate.Inf turns limiting off. RateBurst is the bucket size
	// (default DefaultRateBurst).
	RateLimit rate.Limit
	RateBurst int
	// RotationLimit is the sustained webhook secret rotations per second allowed per
	// account, and per endpoint for endpoint secrets (default DefaultRotationLimit),
	// RotationBurst its bucket (default DefaultRotationBurst); rate.Inf turns the
	// limit off. Each rotation rewrites the account (or endpoint), which every
	// delivery to it reads.
	RotationLimit rate.Limit
	RotationBurst int
	// AuthFailureLimit is the sustained failed authentications per second allowed per
	// client address (default DefaultAuthFailureLimit), AuthFailureBurst its bucket
	// (default DefaultAuthFailureBurst); rate.Inf turns the limit off. Over it, the
	// address gets 429 without its key being looked at; requests that authenticate
	// use up nothing. The address is the connection's: no proxy header is believed.
	AuthFailureLimit rate.Limit
	AuthFailureBurst int
	// Backup serves GET /admin/backup; the route does not exist when it is nil.
	Backup Backuper
	// Status serves GET /admin/status; the route does not exist when it is nil.
	Status StatusReporter
	// Metrics serves GET /metrics with an operator API key, or without a key when
	// PublicMetrics is set; the route does not exist when it is nil.
	Metrics       http.Handler
	PublicMetrics bool
	// Ready answers GET /readyz; nil means always ready.
	Ready func(context.Context) error
	Now   func() time.Time // default time.Now
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.BodyLimit <= 0 {
		o.BodyLimit = DefaultBodyLimit
	}
	if o.BatchBodyLimit <= 0 {
		o.BatchBodyLimit = max(DefaultBatchBodyLimit, o.BodyLimit)
	}
	if o.RateLimit <= 0 {
		o.RateLimit = DefaultRateLimit
	}
	if o.RateBurst <= 0 {
		o.RateBurst = DefaultRateBurst
	}
	if o.RotationLimit <= 0 {
		o.RotationLimit = DefaultRotationLimit
	}
	if o.RotationBurst <= 0 {
		o.RotationBurst = DefaultRotationBurst
	}
	if o.AuthFailureLimit <= 0 {
		o.AuthFailureLimit = DefaultAuthFailureLimit
	}
	if o.AuthFailureBurst <= 0 {
		o.AuthFailureBurst = DefaultAuthFailureBurst
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// server holds what the handlers share.
type server struct {
	svc          *references.Service
	opts         Options
	log          *slog.Logger
	now          func() time.Time
	limiter      *keylimit.Limiters // per API key; nil when rate limiting is off
	rotations    *keylimit.Limiters // per account (and endpoint); nil when off
	authFailures *keylimit.Limiters // per client address; nil when off
}

// New returns the API as an *echo.Echo ready to serve. Routes added to it later get
// request ids, logs and JSON errors but no authentication: every route New registers
// other than /healthz, /readyz, /openapi.yaml (and /metrics with PublicMetrics)
// requires an API key with the scope the route needs (see requireMethodScope), and
// the operator routes an operator key.
func New(svc *references.Service, opts Options) *echo.Echo {
	opts = opts.withDefaults()
	s := &server{svc: svc, opts: opts, log: opts.Logger, now: opts.Now}
	// keylimit.New gives nil, no limit, for rate.Inf.
	s.limiter = keylimit.New(keylimit.Config{Limit: opts.RateLimit, Burst: opts.RateBurst, Now: opts.Now})
	s.rotations = keylimit.New(keylimit.Config{Limit: opts.RotationLimit, Burst: opts.RotationBurst, Now: opts.Now})
	s.authFailures = keylimit.New(keylimit.Config{Limit: opts.AuthFailureLimit, Burst: opts.AuthFailureBurst,
		MaxKeys: keylimit.MaxAddrs, Now: opts.Now})

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.assignRequestID, s.logRequests, recoverPanics, s.limitBody)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/openapi.yaml", s.openAPI)

	// Authentication is attached per route rather than with e.Use, so that unknown
	// paths are a plain 404 and routes the caller adds stay public.
	// Every key needs the scope of the method (see requireMethodScope).
	authed := []echo.MiddlewareFunc{s.authenticate, s.rateLimit, requireMethodScope}
	e.POST("/references", s.createReference, authed...)
	e.POST("/references/batch", s.createBatch, authed...)
	e.GET("/references", s.listReferences, authed...)
	byID := append([]echo.MiddlewareFunc{notBatch}, authed...)
	e.GET("/references/:id", s.getReference, byID...)
	e.DELETE("/references/:id", s.unsubscribeReference, byID...)
	e.PATCH("/references/:id", s.patchReference, byID...)
	e.GET("/references/:id/updates", s.listUpdates, authed...)
	e.GET("/references/:id/shipment", s.getShipment, authed...)
	e.GET("/references/:id/deliveries", s.listDeliveries, authed...)
	e.POST("/references/:id/updates/:update_id/redeliver", s.redeliver, authed...)
	// Refresh now, pause and resume (issue 13).
	e.POST("/references/:id/refresh", s.refreshReference, authed...)
	e.POST("/references/:id/pause", s.pauseReference, authed...)
	e.POST("/references/:id/resume", s.resumeReference, authed...)
	e.GET("/account/webhook-secret", s.getWebhookSecret, append(authed, requireScope(references.ScopeWrite))...)
	e.POST("/account/webhook-secret/rotate", s.rotateWebhookSecret, authed...)
	e.GET("/account/events", s.listAccountEvents, authed...)
	e.GET("/updates", s.listAccountUpdates, authed...) // the account feed
	e.POST("/endpoints", s.createEndpoint, authed...)
	e.GET("/endpoints", s.listEndpoints, authed...)
	e.GET("/endpoints/:id", s.getEndpoint, authed...)
	e.PATCH("/endpoints/:id", s.patchEndpoint, authed...)
	e.DELETE("/endpoints/:id", s.deleteEndpoint, authed...)
	e.GET("/endpoints/:id/secret", s.getEndpointSecret, append(authed, requireScope(references.ScopeWrite))...)
	e.POST("/endpoints/:id/secret/rotate", s.rotateEndpointSecret, authed...)
	e.GET("/endpoints/:id/messages", s.listMessages, authed...)
	e.GET("/endpoints/:id/messages/:message_id", s.getMessage, authed...)
	e.POST("/endpoints/:id/messages/:message_id/resend", s.resendMessage, authed...)
	e.POST("/endpoints/:id/recover", s.recoverMessages, authed...)
	e.POST("/endpoints/:id/test", s.testEndpoint, authed...)
	e.GET("/endpoints/:id/stats", s.endpointStats, authed...)
	e.GET("/event-types", s.eventTypes, authed...)
	admin := append(authed, requireScope(references.ScopeAdmin))
	e.POST("/account/keys", s.createKey, admin...)
	e.GET("/account/keys", s.listKeys, admin...)
	e.DELETE("/account/keys/:id", s.revokeKey, admin...)
	e.GET("/account/audit", s.listAudit, admin...)
	if opts.Backup != nil {
		e.GET("/admin/backup", s.backup, append(authed, requireOperator)...)
	}
	if opts.Status != nil {
		e.GET("/admin/status", s.status, append(authed, requireOperator)...)
	}
	if opts.Metrics != nil {
		// Metrics name receivers' hosts and the store's size: an operator's view.
		var guard []echo.MiddlewareFunc
		if !opts.PublicMetrics {
			guard = append(authed, requireOperator)
		}
		e.GET("/metrics", echo.WrapHandler(opts.Metrics), guard...)
	}
	return e
}
