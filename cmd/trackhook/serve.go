package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/console"
	"github.com/trackhook/trackhook/inbound"
	"github.com/trackhook/trackhook/internal/autosize"
	"github.com/trackhook/trackhook/internal/keyuse"
	"github.com/trackhook/trackhook/internal/retention"
	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store/postgres"
	"github.com/trackhook/trackhook/tracking"
)

const serveUsage = `trackhook serve runs the API, the web console, the poller and the webhook notifier on one store.

With no flags it listens on :8080, keeps its data in ./trackhook.db and tracks every
carrier with the built-in demo carrier. On a store without API keys it creates one for
account "default" and prints it once.

With --db postgres://user:password@host:5432/dbname (or TRACKHOOK_DB) it keeps its
data in PostgreSQL instead, where several serve processes share the work: each
claims polls and deliveries for --lease, and another takes over a dead one's after
it. The schema is created or upgraded at start (see trackhook migrate).

The web console is at /ui/ on --addr (the root redirects there): sign in with an API
key. Behind a proxy that ends TLS, give --public-url https://... so its session cookie
is only ever sent over HTTPS.

Carriers that push events (push: true in --sources) call back under --public-url,
which they must reach: /inbound/dcsa/... for DCSA T&T 2.2 subscriptions, which
trackhook makes for each reference, and /inbound/dcsa-ct/CODE/events for a DCSA
Container Tracking 3.0 carrier, registered with it. serve logs both at start.

To know the admin key in advance (for scripts), set TRACKHOOK_API_KEY to a key of 16
or more characters: serve registers it for account "default" at start.

Example (a fast demo: a whole voyage in about 18 minutes, 8 to 27 by its route):
  TRACKHOOK_API_KEY=th-demo-key-0123456789 trackhook serve --demo-speed 3600 \
    --poll-interval 10s --min-poll-interval 1s --allow-insecure-callbacks --allow-private-callbacks`

// serveConfig is everything serve reads from flags and the environment.
type serveConfig struct {
	addr, metricsAddr, dbPath      string
	maxConnections                 int           // open at once on addr
	idleTimeout                    time.Duration // of a connection on addr
	sourcesPath                    string
	logFormat, logLevel            string
	allowInsecure, allowPrivate    bool
	metricsPublic                  bool
	demoSpeed                      float64
	pollInterval, minPollInterval  time.Duration
	maxAge, notFoundFor, retention time.Duration
	pollWorkers, deliveryWorkers   int
	deliveryTimeout, retryWindow   time.Duration
	failingUnsubscribeAfter        time.Duration
	rateLimit                      float64
	rateBurst                      int
	shutdownTimeout                time.Duration
	terminal                       tracking.TerminalRule
	deliveryLogRetention           time.Duration
	unsubscribedRetention          time.Duration
	maxActivePerAccount            int
	maxEndpointsPerAccount         int
	// lease is how long a claimed poll stays this instance's without renewal;
	// deliveryLease a claimed delivery stream's (lease, raised to 3x
	// --delivery-timeout when --lease is not given).
	lease, deliveryLease time.Duration
	// publicURL is where outsiders reach this server (--public-url), nil when not
	// given.
	publicURL                    *url.URL
	sessionIdle, sessionLifetime time.Duration
	// sources is the --sources file as read, nil without one.
	sources *poller.Sources
	// pushRotateEvery is how often carrier push subscriptions get a new secret (0:
	// never); pushSecretGrace how long the previous one still verifies.
	pushRotateEvery, pushSecretGrace time.Duration
	// machine is what the defaults of --poll-workers, --delivery-workers and the
	// garbage collector were sized from (see internal/autosize); given holds the
	// names of the flags set on the command line or in the environment.
	machine autosize.Machine
	given   map[string]bool
}

func parseServeFlags(args []string, e env) (serveConfig, error) {
	c := serveConfig{machine: autosize.Read()}
	fs := newFlagSet("serve", serveUsage, e.stdout)
	fs.StringVar(&c.addr, "addr", ":8080", "address the API listens on")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve /metrics on this address (e.g. 127.0.0.1:9090), without an API key, instead of on --addr")
	fs.BoolVar(&c.metricsPublic, "metrics-public", false, "serve /metrics on --addr without an API key (by default it needs an admin key there)")
	fs.StringVar(&c.dbPath, "db", "trackhook.db", "path of the store file (created when missing), or a PostgreSQL URL (postgres://user:password@host:5432/dbname) shared by several instances")
	fs.DurationVar(&c.lease, "lease", defaultLease, "how long a claimed poll or delivery stays this instance's without renewal: another instance takes over a dead one's work after this (at least 3x --delivery-timeout)")
	fs.StringVar(&c.sourcesPath, "sources", "", "YAML or JSON file choosing a tracking source per carrier (default: the demo carrier for all)")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.BoolVar(&c.allowInsecure, "allow-insecure-callbacks", false, "accept http:// callback URLs (development only)")
	fs.BoolVar(&c.allowPrivate, "allow-private-callbacks", false, "allow callbacks to loopback and private addresses (development and tests only)")
	fs.Float64Var(&c.demoSpeed, "demo-speed", 1, "simulated seconds per real second of the demo carrier, e.g. 3600")
	fs.DurationVar(&c.pollInterval, "poll-interval", 15*time.Minute, "poll interval of references that set none")
	fs.DurationVar(&c.minPollInterval, "min-poll-interval", 5*time.Minute, "smallest poll_interval a reference may ask for")
	fs.DurationVar(&c.maxAge, "max-tracking-age", 90*24*time.Hour, "unsubscribe references older than this")
	fs.DurationVar(&c.notFoundFor, "not-found-for", 72*time.Hour, "unsubscribe references the source has not known for this long")
	fs.DurationVar(&c.retention, "retention", 30*24*time.Hour, "how long delivered updates stay in the feed")
	fs.IntVar(&c.pollWorkers, "poll-workers", autosize.PollWorkers(c.machine), "polls running at once; the default is 128 per CPU, at most 1024 (fewer in little memory)")
	fs.IntVar(&c.deliveryWorkers, "delivery-workers", autosize.DeliveryWorkers(c.machine), "webhook deliveries running at once; the default is 16 per CPU, at least 32 and at most 512")
	fs.DurationVar(&c.deliveryTimeout, "delivery-timeout", 10*time.Second, "timeout of one webhook attempt")
	fs.DurationVar(&c.retryWindow, "retry-window", 72*time.Hour, "how long a failing webhook is retried before it is given up")
	fs.DurationVar(&c.failingUnsubscribeAfter, "unsubscribe-failing-after", 5*24*time.Hour, "unsubscribe references whose callback has failed for this long")
	fs.IntVar(&c.maxConnections, "max-connections", defaultMaxConnections, "API connections open at once; more wait to be accepted (lowered to fit the file descriptor limit)")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", 30*time.Second, "close an API connection that waits this long for its next request (or its first)")
	fs.Float64Var(&c.rateLimit, "rate-limit", float64(api.DefaultRateLimit), "API requests per second allowed per key")
	fs.IntVar(&c.rateBurst, "rate-burst", api.DefaultRateBurst, "API request burst allowed per key")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 20*time.Second, "how long shutdown waits for in-flight requests, polls and deliveries")
	fs.DurationVar(&c.deliveryLogRetention, "delivery-log-retention", retention.DefaultKeep, "how long entries of the delivery log (attempts, with their response bodies) are kept")
	fs.DurationVar(&c.unsubscribedRetention, "unsubscribed-retention", retention.DefaultKeep, "how long an unsubscribed reference is kept, with its feed and delivery log, once nothing of it is left to deliver")
	fs.IntVar(&c.maxActivePerAccount, "max-active-references-per-account", 0, "most active references an account may have; a create beyond it answers 403 quota_exceeded (0: no limit)")
	fs.IntVar(&c.maxEndpointsPerAccount, "max-endpoints-per-account", references.MaxEndpointsPerAccount, "most webhook endpoints an account may have; a create beyond it answers 403 quota_exceeded (0: no limit)")
	publicURL := fs.String("public-url", "", "the URL outsiders reach this server at (e.g. https://trackhook.example.com), for anything it tells them: with https, the console's cookies are sent over HTTPS only, even when TLS ends in a proxy in front")
	fs.DurationVar(&c.sessionIdle, "session-idle", references.DefaultSessionIdle, "sign a console session out after this long without use")
	fs.DurationVar(&c.sessionLifetime, "session-lifetime", references.DefaultSessionLifetime, "sign a console session out this long after sign-in, however much it is used")
	fs.DurationVar(&c.pushRotateEvery, "push-rotate-every", defaultPushRotateEvery, "give each carrier push subscription (DCSA T&T 2.2, push: true in --sources) a new secret this often (0: never)")
	fs.DurationVar(&c.pushSecretGrace, "push-secret-grace", defaultPushSecretGrace, "after a push subscription's secret is replaced, the previous one still verifies the carrier's pushes this long")
	terminal := fs.String("terminal-events", "GTIN:EMPTY", "actual events that end tracking after arrival: CODE or CODE:EMPTY|LADEN, comma-separated")
	if err := parseFlags(fs, args, e.getenv); err != nil {
		return c, err
	}
	if fs.NArg() != 0 {
		return c, fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	// Checked before the store file is opened: a refused key leaves no file behind.
	if _, err := apiKeyFromEnv(e); err != nil {
		return c, err
	}
	var err error
	if c.publicURL, err = parsePublicURL(*publicURL); err != nil {
		return c, err
	}
	if err := checkSessionTimes(c.sessionIdle, c.sessionLifetime); err != nil {
		return c, err
	}
	if err := checkPushSecrets(c.pushRotateEvery, c.pushSecretGrace); err != nil {
		return c, err
	}
	if c.terminal, err = tracking.ParseTerminalRule(*terminal); err != nil {
		return c, fmt.Errorf("--terminal-events: %w", err)
	}
	switch {
	case c.logFormat != "text" && c.logFormat != "json":
		return c, fmt.Errorf("--log-format must be text or json, not %q", c.logFormat)
	case c.demoSpeed <= 0:
		return c, errors.New("--demo-speed must be above 0")
	case c.minPollInterval <= 0 || c.pollInterval <= 0:
		return c, errors.New("--poll-interval and --min-poll-interval must be above 0")
	case c.pollInterval < c.minPollInterval:
		return c, fmt.Errorf("--poll-interval (%v) must be at least --min-poll-interval (%v): give a longer --poll-interval or a shorter --min-poll-interval",
			c.pollInterval, c.minPollInterval)
	case c.maxConnections <= 0 || c.idleTimeout <= 0:
		return c, errors.New("--max-connections and --idle-timeout must be above 0")
	case c.pollWorkers <= 0 || c.deliveryWorkers <= 0:
		return c, errors.New("--poll-workers and --delivery-workers must be above 0")
	case c.retention <= 0 || c.deliveryLogRetention <= 0 || c.unsubscribedRetention <= 0:
		return c, errors.New("--retention, --delivery-log-retention and --unsubscribed-retention must be above 0")
	case c.maxActivePerAccount < 0:
		return c, errors.New("--max-active-references-per-account must be 0 (no limit) or more")
	case c.maxEndpointsPerAccount < 0:
		return c, errors.New("--max-endpoints-per-account must be 0 (no limit) or more")
	case c.metricsPublic && c.metricsAddr != "":
		return c, errors.New("--metrics-public opens /metrics on --addr; with --metrics-addr it is served there, without a key, already")
	case c.deliveryTimeout <= 0:
		return c, errors.New("--delivery-timeout must be above 0")
	}
	c.given = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.given[f.Name] = true }) // the command line's and the environment's
	if c.deliveryLease, err = leases(c.lease, c.given["lease"], c.deliveryTimeout); err != nil {
		return c, err
	}
	// Read now, before the store is opened: a file serve cannot run with leaves
	// nothing behind.
	if c.sources, err = loadSources(c, e); err != nil {
		return c, err
	}
	if err := checkPush(c); err != nil {
		return c, err
	}
	return c, nil
}

// Defaults of --push-rotate-every and --push-secret-grace.
const (
	defaultPushRotateEvery = poller.DefaultPushRotateEvery
	defaultPushSecretGrace = poller.DefaultPushSecretGrace
)

// minPushRotateEvery is the shortest --push-rotate-every: each rotation is a request
// to the carrier for every pushed reference.
const minPushRotateEvery = time.Hour

// checkPushSecrets checks --push-rotate-every and --push-secret-grace.
func checkPushSecrets(rotateEvery, grace time.Duration) error {
	switch {
	case rotateEvery < 0 || rotateEvery > 0 && rotateEvery < minPushRotateEvery:
		return fmt.Errorf("--push-rotate-every must be 0 (never) or at least %v, not %v: each rotation is a request to the carrier for every pushed reference", minPushRotateEvery, rotateEvery)
	case grace < 0:
		return fmt.Errorf("--push-secret-grace must not be negative, not %v", grace)
	case rotateEvery > 0 && grace >= rotateEvery:
		return fmt.Errorf("--push-secret-grace (%v) must be shorter than --push-rotate-every (%v): a secret's grace ends before the next rotation", grace, rotateEvery)
	}
	return nil
}

// parsePublicURL checks --public-url: empty, or an absolute http or https URL of a
// host, without credentials, query or fragment (it is a base others append paths to).
// A trailing slash is dropped.
func parsePublicURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, nil
	}
	const want = "an absolute http:// or https:// URL such as https://trackhook.example.com"
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("--public-url %q is not %s: %w", raw, want, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("--public-url %q is not %s", raw, want)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("--public-url %q has no host: give %s", raw, want)
	case u.User != nil:
		return nil, fmt.Errorf("--public-url must not hold a user name or password")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("--public-url %q must not have a query or fragment", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// minSessionIdle is the shortest --session-idle: a session is marked used at most
// once a minute, so a shorter idle time would sign out people who are busy.
const minSessionIdle = 2 * time.Minute

// checkSessionTimes checks --session-idle and --session-lifetime.
func checkSessionTimes(idle, lifetime time.Duration) error {
	switch {
	case idle < minSessionIdle:
		return fmt.Errorf("--session-idle must be at least %v (a session is marked used at most once a minute), not %v", minSessionIdle, idle)
	case lifetime < idle:
		return fmt.Errorf("--session-lifetime (%v) must be at least --session-idle (%v)", lifetime, idle)
	}
	return nil
}

// defaultLease is the default of --lease.
const defaultLease = 30 * time.Second

// minLease is the shortest --lease: a lease is renewed every third of it, and each
// renewal is a write to the store.
const minLease = time.Second

// leases checks --lease and returns the notifier's lease. A delivery's lease is
// renewed every third of it while the POST runs, so a third must hold one attempt:
// it is at least 3x --delivery-timeout. A --lease given (flag or environment)
// shorter than that is refused; the default is raised to it.
func leases(lease time.Duration, given bool, deliveryTimeout time.Duration) (time.Duration, error) {
	least := 3 * deliveryTimeout
	switch {
	case lease < minLease:
		return 0, fmt.Errorf("--lease must be at least %v, not %v", minLease, lease)
	case lease >= least:
		return lease, nil
	case given:
		return 0, fmt.Errorf("--lease (%v) must be at least 3 times --delivery-timeout (%v), %v: a delivery's lease is renewed every third of it while its POST runs; give a longer --lease or a shorter --delivery-timeout",
			lease, deliveryTimeout, least)
	}
	return least, nil
}

func newLogger(c serveConfig, e env) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
	}
	return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
}

func serve(ctx context.Context, args []string, e env) error {
	c, err := parseServeFlags(args, e)
	if err != nil {
		return err
	}
	log, err := newLogger(c, e)
	if err != nil {
		return err
	}
	defer sizeFromMachine(ctx, c, e, log)()
	db, err := openBackend(ctx, c.dbPath, openOptions{command: "serve", logger: log})
	if errors.Is(err, errStoreInUse) {
		return fmt.Errorf("serve: %w: stop it, or give this one another --db", err)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	if err := bootstrapKeys(ctx, db, e); err != nil {
		return err
	}
	s, err := build(c, e, db, log)
	if err != nil {
		return err
	}
	return s.run(ctx)
}

// service is everything serve runs, built and not yet started.
type service struct {
	cfg        serveConfig
	log        *slog.Logger
	db         backend
	polls      *poller.Poller
	deliveries *notifier.Notifier
	retention  *retention.Pruner
	keyUse     *keyuse.Recorder // when each API key was last used
	api        *http.Server
	metrics    *http.Server // nil when /metrics is served on the API's port
	stopping   *atomic.Bool // readiness turns 503 once set
}

// build wires the service over an open store: sources, the domain service, the
// notifier, the poller, retention, metrics and the HTTP servers.
func build(c serveConfig, e env, db backend, log *slog.Logger) (*service, error) {
	router, err := sourceRouter(c, e, log.With("component", "poller"))
	if err != nil {
		return nil, err
	}
	breakers := notifier.NewBreakers(notifier.BreakerSettings{})
	meters, err := newMetrics(db, router, breakers, c.sources, log.With("component", "metrics"))
	if err != nil {
		return nil, err
	}
	s := &service{cfg: c, log: log, db: db, stopping: new(atomic.Bool)}
	instance := instanceName()
	s.keyUse = keyuse.New(db, keyuse.Options{Logger: log.With("component", "keyuse")})
	s.deliveries = notifier.New(db, notifier.NewSender(notifier.SenderOptions{
		Timeout: c.deliveryTimeout, UserAgent: "trackhook/" + version, AllowPrivate: c.allowPrivate,
	}), notifier.Options{
		Workers: c.deliveryWorkers, RetryWindow: c.retryWindow, Breakers: breakers,
		UnsubscribeFailingAfter: c.failingUnsubscribeAfter, Logger: log.With("component", "notifier"),
		Owner: "notifier " + instance, Lease: c.deliveryLease, Observe: meters.ObserveDelivery,
	})
	svcOpts := references.ServiceOptions{
		AllowInsecureCallbacks: c.allowInsecure,
		DefaultPollInterval:    c.pollInterval,
		MinPollInterval:        c.minPollInterval,
		MaxActivePerAccount:    c.maxActivePerAccount,
		MaxEndpointsPerAccount: c.maxEndpointsPerAccount,
		CheckSource:            router.Check, // an identifier the carrier's API cannot take is a 422
		TestEndpoint:           endpointTest(s.deliveries),
		KeyUsed:                s.keyUse.Seen,
		SessionIdle:            c.sessionIdle,
		SessionLifetime:        c.sessionLifetime,
		// A refresh or a resume made a poll due now (and a resume the reference's
		// pending deliveries): scan now. s.polls is set below, before serving.
		PollRequested: func() {
			s.polls.Wake()
			s.deliveries.Wake()
		},
	}
	if !c.allowPrivate {
		svcOpts.CheckCallback = func(ctx context.Context, raw string) error {
			err := notifier.CheckCallbackURL(ctx, nil, raw)
			if errors.Is(err, notifier.ErrTemporaryResolution) {
				return references.Temporary(err)
			}
			return err
		}
	}
	svc := references.NewService(db, svcOpts)
	s.polls, err = poller.New(db, poller.Options{
		Router: router, Workers: c.pollWorkers, DefaultInterval: c.pollInterval,
		MaxAge: c.maxAge, NotFoundFor: c.notFoundFor, Terminal: c.terminal, Logger: log.With("component", "poller"),
		Owner: "poller " + instance, Lease: c.lease,
		Push: pushOptions(c),
		Observe: func(r poller.PollReport) {
			meters.ObservePoll(r)
			if r.Updates > 0 {
				s.deliveries.Wake() // deliver now rather than at the next outbox scan
			}
		},
	})
	if err != nil {
		return nil, err
	}
	s.retention = retention.New(db, retention.Options{
		Keep: c.retention, KeepDeliveryLog: c.deliveryLogRetention, KeepUnsubscribed: c.unsubscribedRetention,
		Logger: log.With("component", "retention"),
	})

	apiOpts := api.Options{
		Logger: log.With("component", "api"), Backup: db, Status: db,
		RateLimit: rateLimit(c.rateLimit), RateBurst: c.rateBurst,
		Ready: s.ready,
		// Carrier pushes are larger than the API's JSON and bounded by their routes.
		OwnBodyLimits: []string{inbound.Prefix + "/"},
	}
	// Metrics name receivers' hosts: on the API's port they need an admin key, unless
	// --metrics-public opens them; --metrics-addr gives them a port of their own,
	// without a key, for Prometheus on a private network.
	if c.metricsAddr == "" {
		apiOpts.Metrics, apiOpts.PublicMetrics = meters.Handler(), c.metricsPublic
	}
	handler := api.New(svc, apiOpts)
	if _, err := console.Register(handler, svc, console.Options{
		Logger: log.With("component", "console"), PublicURL: c.publicURL, Operator: db,
		OpenBreakers: breakers.OpenHosts,
	}); err != nil {
		return nil, err
	}
	observePush := func(r inbound.Report) {
		meters.ObserveInbound(r)
		if r.Updates > 0 {
			s.deliveries.Wake() // deliver now, as after a poll
		}
	}
	if err := registerInbound(handler, c, db, s.polls, observePush, log.With("component", "inbound")); err != nil {
		return nil, err
	}
	if c.metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", meters.Handler())
		s.metrics = &http.Server{Addr: c.metricsAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	}
	s.api = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: min(10*time.Second, c.idleTimeout), // a new connection idles too
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      5 * time.Minute, // a backup of a large store streams for a while
		IdleTimeout:       c.idleTimeout,
	}
	return s, nil
}

// pushOptions are the poller's carrier push settings: the carriers of --sources that
// push, where they call back, and how their subscriptions' secrets rotate.
func pushOptions(c serveConfig) poller.PushOptions {
	o := poller.PushOptions{PublicURL: c.publicURL, RotateEvery: c.pushRotateEvery, Grace: c.pushSecretGrace}
	if c.sources != nil {
		o.Sources = c.sources.Push
	}
	return o
}

// registerInbound adds the routes carriers push to, on the API's server, when a
// carrier of --sources pushes; they authenticate carriers by signature or by the
// source's inbound_auth, not by API key. It logs where each carrier must push.
func registerInbound(handler *echo.Echo, c serveConfig, db backend, polls *poller.Poller, observe func(inbound.Report), log *slog.Logger) error {
	carriers := pushCarriers(c.sources)
	if len(carriers) == 0 {
		return nil
	}
	sources, err := inboundSources(c.sources, log)
	if err != nil {
		return err
	}
	if err := inbound.Register(handler, inbound.Options{
		Applier: polls, Store: db, Sources: sources, Logger: log, Observe: observe,
	}); err != nil {
		return err
	}
	public := c.publicURL.String()
	for _, code := range carriers {
		switch sources[code].Model {
		case poller.PushSubscription:
			log.Info("carrier push: trackhook subscribes at the carrier for each reference, with callbacks under this URL",
				"carrier", code, "model", "DCSA T&T 2.2", "callback_url", inbound.TNTCallbackURL(public, code, "{reference id}"))
		case poller.PushReceiver:
			log.Info("carrier push: register this URL at the carrier as the subscriber's POST /events, with the inbound_auth credential",
				"carrier", code, "model", "DCSA CT 3.0", "url", inbound.CTEventsURL(public, code))
		}
	}
	return nil
}

// run listens, starts the background work and serves until ctx ends or the server
// fails; then it stops everything in order: the API first, then retention, polls and
// deliveries, each draining what is under way until --shutdown-timeout.
func (s *service) run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.addr, err)
	}
	ln = limitConnections(ln, s.cfg, s.log)
	if s.metrics != nil {
		mln, err := net.Listen("tcp", s.cfg.metricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s: %w", s.cfg.metricsAddr, err)
		}
		go func() {
			if err := s.metrics.Serve(mln); !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("metrics server stopped", "err", err)
			}
		}()
	}

	// Background work runs under its own context: it is stopped in order below,
	// after the API stops taking requests.
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	s.polls.Start(work)
	s.deliveries.Start(work)
	s.retention.Start(work)
	s.keyUse.Start(work)

	serveErr := make(chan error, 1)
	go func() { serveErr <- s.api.Serve(ln) }()
	s.log.Info("trackhook serving", "addr", ln.Addr().String(), "db", redactURL(s.cfg.dbPath), "version", version,
		"lease", s.cfg.lease, "delivery_lease", s.cfg.deliveryLease)

	select {
	case <-ctx.Done():
		s.log.Info("shutting down")
	case err = <-serveErr:
		s.log.Error("server stopped", "err", err)
	}
	s.stopping.Store(true)
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.shutdownTimeout)
	defer cancel()
	if shutErr := s.api.Shutdown(stopCtx); shutErr != nil {
		s.log.Error("API shutdown", "err", shutErr)
	}
	if s.metrics != nil {
		_ = s.metrics.Shutdown(stopCtx) // a scrape cut short loses nothing
	}
	s.keyUse.Stop(stopCtx) // after the API: the last requests' uses are written too
	s.retention.Stop(stopCtx)
	s.polls.Stop(stopCtx)
	s.deliveries.Stop(stopCtx)
	stopWork()
	s.log.Info("stopped")
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// readyTimeout bounds the store's answer to a readiness check: a database that does
// not answer within it is as good as down (probes give up after a second or so).
const readyTimeout = 2 * time.Second

// ready is the readiness check of GET /readyz: not ready while shutting down or
// while the store does not answer; ready again by itself once it does (the pool
// reconnects to a database that came back).
func (s *service) ready(ctx context.Context) error {
	if s.stopping.Load() {
		return api.NotReady("shutting down", nil)
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		what := "the store does not answer"
		if postgres.IsURL(s.cfg.dbPath) {
			what = "the database does not answer"
		}
		return api.NotReady(what, scrubSecrets(err, s.cfg.dbPath))
	}
	return nil
}

// instanceName names this process in its leases, so that the instances sharing a
// database can be told apart in it: the host name and the process id.
func instanceName() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}

// minAPIKeyLen is the least length of TRACKHOOK_API_KEY.
const minAPIKeyLen = 16

// apiKeyFromEnv returns TRACKHOOK_API_KEY, "" when it is not set, or an error when it
// is too short.
func apiKeyFromEnv(e env) (string, error) {
	key := e.getenv("TRACKHOOK_API_KEY")
	if key != "" && len(key) < minAPIKeyLen {
		return "", fmt.Errorf("TRACKHOOK_API_KEY must be at least %d characters", minAPIKeyLen)
	}
	return key, nil
}

// bootstrapKeys registers TRACKHOOK_API_KEY (so scripts know a key in advance) and,
// on a store with no live key, creates one for the default account and prints it once.
func bootstrapKeys(ctx context.Context, db backend, e env) error {
	now := time.Now()
	if _, err := db.EnsureAccount(ctx, references.DefaultAccount, references.NewWebhookSecret(), now); err != nil {
		return err
	}
	key, err := apiKeyFromEnv(e)
	if err != nil {
		return err
	}
	// Both keys serve makes are operator keys, as the admin keys of earlier versions
	// were: whoever starts serve runs the service.
	first := newKeyOptions{
		account: references.DefaultAccount, scopes: []references.Scope{references.ScopeAdmin},
		operator: true, actor: references.ActorSystem,
	}
	if key != "" {
		_, stored := references.NewAPIKey(first.account, first.scopes, now)
		stored.Hash, stored.Prefix = references.HashAPIKey(key), key[:min(8, len(key))]
		stored.Operator, stored.CreatedBy = first.operator, first.actor
		registered := func() (bool, error) {
			existing, err := db.LookupAPIKey(ctx, stored.Hash)
			switch {
			case errors.Is(err, references.ErrNotFound):
				return false, nil
			case err != nil:
				return false, err
			case existing.RevokedAt != nil:
				return true, errors.New("TRACKHOOK_API_KEY was revoked on this store; set another key")
			}
			return true, nil
		}
		if ok, err := registered(); ok || err != nil {
			return err
		}
		err := db.CreateAPIKey(ctx, stored)
		if err != nil && references.ErrorCode(err) == references.CodeConflict {
			// Instances started together on one database: another registered it first.
			_, err = registered()
		}
		return err
	}
	n, err := db.CountAPIKeys(ctx)
	if err != nil || n > 0 {
		return err
	}
	key, err = createKey(ctx, db, first, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Created an operator API key (scope admin) for account %q. It is shown only this once:\n\n    %s\n\n", references.DefaultAccount, key)
	return nil
}

// rateLimit turns the --rate-limit flag into a limit; 0 or less turns limiting off.
func rateLimit(perSecond float64) rate.Limit {
	if perSecond <= 0 {
		return rate.Inf
	}
	return rate.Limit(perSecond)
}
