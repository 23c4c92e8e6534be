// Package console serves trackhook's web console under /ui/: server-rendered pages
// (html/template, assets embedded in the binary) over the references Service, for
// people who would rather look than read JSON. A person signs in with an API key;
// the console keeps a session in the store (references.SessionStore), so every
// instance on a shared database knows it, and the key never reaches the browser.
//
// Files by subject: auth.go (sign-in, sessions, CSRF, security headers), render.go
// (templates and error pages), shipments.go and shipment.go (references),
// endpoints.go and messages.go (webhooks), account.go, operator.go; chart/ draws the
// SVG charts.
package console

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/internal/keylimit"
	"github.com/trackhook/trackhook/references"
)

// Prefix is where the console is served.
const Prefix = "/ui"

// Defaults of the sign-in failure limit, the API's for failed authentications: a
// burst of 20 wrong keys per client address, then one every 6 seconds.
const (
	DefaultSignInFailureLimit = rate.Limit(1.0 / 6)
	DefaultSignInFailureBurst = 20
)

// OperatorStatus is what the operator view reads of the whole store; both backends
// implement it.
type OperatorStatus interface {
	Stats(ctx context.Context) (references.Stats, error)
	// OldestUndelivered returns the oldest update waiting for delivery, or nil.
	OldestUndelivered(ctx context.Context) (*references.Update, error)
}

// Options configures the console. Logger and Now have defaults.
type Options struct {
	Logger *slog.Logger
	// PublicURL is where outsiders reach this server (--public-url); when its scheme
	// is https, cookies are Secure even if TLS ends in front of trackhook.
	PublicURL *url.URL
	// Operator serves the operator view to operator keys; nil hides it.
	Operator OperatorStatus
	// OpenBreakers returns the destination hosts whose breaker is open now; nil: none
	// shown.
	OpenBreakers func() []string
	Now          func() time.Time
	// SignInFailureLimit is the sustained failed sign-ins per second allowed per
	// client address (default DefaultSignInFailureLimit), SignInFailureBurst its
	// bucket (default DefaultSignInFailureBurst); rate.Inf turns the limit off. Over
	// it, sign-ins from the address are refused with 429.
	SignInFailureLimit rate.Limit
	SignInFailureBurst int
}

// Server holds what the console's handlers share.
type Server struct {
	svc    *references.Service
	opts   Options
	log    *slog.Logger
	pages  pages
	assets assets
	// signInFailures counts wrong keys per client address, as the API counts failed
	// authentications; nil when unlimited.
	signInFailures *keylimit.Limiters
}

// Register adds the console's routes to e, which serves the API too (see
// api.New): its request ids and logs apply, while the console renders its own HTML
// errors. The root redirects to the console.
func Register(e *echo.Echo, svc *references.Service, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SignInFailureLimit <= 0 {
		opts.SignInFailureLimit = DefaultSignInFailureLimit
	}
	if opts.SignInFailureBurst <= 0 {
		opts.SignInFailureBurst = DefaultSignInFailureBurst
	}
	a, err := loadAssets()
	if err != nil {
		return nil, fmt.Errorf("console: assets: %w", err)
	}
	p, err := parsePages(funcs(opts.Now, a.url))
	if err != nil {
		return nil, err
	}
	s := &Server{svc: svc, opts: opts, log: opts.Logger, pages: p, assets: a,
		signInFailures: keylimit.New(keylimit.Config{Limit: opts.SignInFailureLimit, Burst: opts.SignInFailureBurst,
			MaxKeys: keylimit.MaxAddrs, Now: opts.Now})}
	s.routes(e)
	return s, nil
}
