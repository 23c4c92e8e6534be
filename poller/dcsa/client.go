// Package dcsa is a tracking source that polls a carrier's DCSA Track & Trace v2.2 API
// (GET /v2/events) and maps the events to trackhook's domain types.
package dcsa

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// Client fetches the events of one shipment from one carrier's DCSA endpoint. It is
// safe for concurrent use; the rate and concurrency limits are shared by all callers.
type Client struct {
	name    string
	cfg     Config
	events  *url.URL // base URL + /v2/events
	subs    *url.URL // base URL + /v2/event-subscriptions
	http    *http.Client
	clock   clock.Clock
	log     *slog.Logger
	limiter *rate.Limiter // nil without a rate limit
	slots   chan struct{} // nil without a concurrency limit
	tokens  *tokenCache   // nil without OAuth2
}

// Option changes how New builds a Client.
type Option func(*Client)

// WithHTTPClient replaces the HTTP client New builds. Config.Timeout is then not
// applied: the given client's own timeout is.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithClock sets the clock used to read Retry-After dates and to expire OAuth2 tokens.
// The default, and nil, is the real clock.
func WithClock(clk clock.Clock) Option { return func(c *Client) { c.clock = clock.OrReal(clk) } }

// WithLogger sets the logger that reports skipped events. The default discards.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// New returns a Client for the carrier called name (used in error texts, such as
// "dcsa MAEU: ..."). It checks cfg and fills its zero limits with the defaults.
func New(name string, cfg Config, opts ...Option) (*Client, error) {
	cfg = cfg.withDefaults()
	base, err := cfg.validate()
	if err != nil {
		return nil, fmt.Errorf("dcsa %s: %w", name, err)
	}
	c := &Client{
		name:   name,
		cfg:    cfg,
		events: base.JoinPath("v2", "events"),
		subs:   base.JoinPath("v2", "event-subscriptions"),
		clock:  clock.Real{},
		log:    slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		opt(c)
	}
	if c.http == nil {
		c.http = newHTTPClient(cfg)
	}
	if rps := cfg.RequestsPerSecond; rps > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(rps), max(1, int(rps)))
	}
	if cfg.MaxConcurrency > 0 {
		c.slots = make(chan struct{}, cfg.MaxConcurrency)
	}
	if cfg.Auth.OAuth2 != nil {
		c.tokens = newTokenCache(cfg.Auth.OAuth2, c.http, c.clock)
	}
	return c, nil
}

// newHTTPClient returns a client tuned for polling one host: more idle connections
// than net/http's default of 2 per host, bounded dials and handshakes, and redirects
// followed only within the same host, because the auth headers would follow them.
func newHTTPClient(cfg Config) *http.Client {
	idle := max(cfg.MaxConcurrency, 8)
	return &http.Client{
		Timeout: cfg.Timeout,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          idle,
			MaxIdleConnsPerHost:   idle,
			MaxConnsPerHost:       cfg.MaxConcurrency, // 0: no limit
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return badAnswer(errors.New("stopped after 3 redirects"))
			}
			if req.URL.Host != via[0].URL.Host {
				return badAnswer(fmt.Errorf("refusing a redirect to another host (%s)", req.URL.Host))
			}
			return nil
		},
	}
}

// Fetch returns the shipment's events, following pagination. Events are sorted by
// time (stable, so the carrier's order breaks ties) and an event id seen twice across
// pages is kept once. An empty result, or a 404, is an error wrapping
// references.ErrShipmentNotFound: DCSA answers an unknown reference with an empty list.
// A container reference gets its own events and those that name no container (see
// ownEvents); a bill of lading or booking every container's, which tracking.Derive
// groups by equipmentReference.
// Other failures are a *references.SourceError: rate limited (429, with the wait its
// Retry-After asked for), unavailable (5xx, 408, timeouts, connection errors), bad
// request (other 4xx, or an identifier the API does not take: see CheckReference) or
// bad answer (a body or a status that cannot be used).
func (c *Client) Fetch(ctx context.Context, ref references.Reference) (*references.Shipment, error) {
	query, err := filter(ref)
	if err != nil {
		// Asking would only earn an error answer: the request is at fault, not the API.
		return nil, fmt.Errorf("dcsa %s: %w", c.name, &references.SourceError{Kind: references.ErrSourceBadRequest, Err: err})
	}
	events, err := c.fetchAll(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("dcsa %s: %w", c.name, err)
	}
	if ref.ContainerID != "" {
		var ok bool
		if events, ok = ownEvents(events, ref.ContainerID); !ok {
			return nil, fmt.Errorf("dcsa %s: no events for %s, only for other containers: %w", c.name, describe(query), references.ErrShipmentNotFound)
		}
	}
	return &references.Shipment{Events: events}, nil
}

// ownEvents returns the events of container and those that name no container. Some
// servers answer an equipmentReference query with the events of every container of
// the shipment; a container reference follows its own, so that its tracking ends
// with its own return, not with the last of its bill of lading. ok is false when the
// events name other containers and never this one.
func ownEvents(events []references.Event, container string) (own []references.Event, ok bool) {
	named, others := false, false
	own = slices.DeleteFunc(events, func(e references.Event) bool {
		ref := strings.ReplaceAll(e.EquipmentReference, " ", "")
		switch {
		case ref == "":
			return false
		case strings.EqualFold(ref, container):
			named = true
			return false
		}
		others = true
		return true
	})
	return own, named || !others
}

func (c *Client) fetchAll(ctx context.Context, query url.Values) ([]references.Event, error) {
	var (
		events  []references.Event
		total   int
		skipped []string
		seen    = map[string]bool{} // event ids
		cursors = map[string]bool{}
	)
	for n := 1; ; n++ {
		p, next, err := c.fetchPage(ctx, query, c.cfg.MaxEvents-total)
		if errors.Is(err, errTooManyEvents) {
			return nil, badAnswer(fmt.Errorf("more than %d events (max_events): the server keeps sending", c.cfg.MaxEvents))
		}
		switch {
		case err == nil:
		case n == 1:
			return nil, err
		case errors.Is(err, references.ErrShipmentNotFound):
			// A later page that is gone (an expired cursor, say) does not mean the
			// shipment is unknown: drop the wrapping, or the poller would count it so.
			return nil, badAnswer(fmt.Errorf("page %d: %v", n, err))
		default:
			return nil, fmt.Errorf("page %d: %w", n, err)
		}
		total += p.total
		if p.nSkip > 0 {
			c.log.WarnContext(ctx, "dcsa: skipped unusable events", "source", c.name, "page", n, "skipped", p.nSkip, "reasons", p.skipped)
			skipped = append(skipped, p.skipped...)
		}
		for _, ev := range p.events {
			if ev.ID != "" {
				if seen[ev.ID] {
					continue
				}
				seen[ev.ID] = true
			}
			events = append(events, ev)
		}
		if next == "" {
			break
		}
		if n >= c.cfg.MaxPages {
			return nil, badAnswer(fmt.Errorf("more than %d pages (max_pages): the server keeps paginating", c.cfg.MaxPages))
		}
		if cursors[next] {
			return nil, badAnswer(errors.New("the server sent the same Next-Page cursor twice"))
		}
		cursors[next] = true
		query.Set("cursor", next)
	}
	switch {
	case len(events) == 0 && total > 0:
		// Every event was refused: more likely a format this client does not read than
		// a shipment without events, so say so instead of "not found".
		return nil, badAnswer(fmt.Errorf("none of the %d events could be used: %s", total, strings.Join(skipped[:min(len(skipped), maxSkipReasons)], "; ")))
	case len(events) == 0:
		return nil, fmt.Errorf("no events for %s: %w", describe(query), references.ErrShipmentNotFound)
	}
	slices.SortStableFunc(events, func(a, b references.Event) int { return a.Time.Compare(b.Time) })
	return events, nil
}

// describe names the filter of a query for error texts: "equipmentReference MSKU1234565".
func describe(query url.Values) string {
	for _, k := range []string{"equipmentReference", "carrierBookingReference", "transportDocumentReference"} {
		if v := query.Get(k); v != "" {
			return k + " " + v
		}
	}
	return "the reference"
}

// fetchPage makes one request and parses its events, reading at most maxEvents. It
// returns the cursor of the next page, or "" on the last page.
func (c *Client) fetchPage(ctx context.Context, query url.Values, maxEvents int) (*page, string, error) {
	if err := c.acquire(ctx); err != nil {
		return nil, "", err
	}
	defer c.release()

	u := *c.events
	u.RawQuery = query.Encode()
	resp, err := c.do(ctx, http.MethodGet, u.String(), nil, "")
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		return nil, "", c.statusError(resp)
	}
	p, err := parseEvents(&limitedReader{r: resp.Body, left: c.cfg.MaxBodyBytes}, maxEvents)
	if errors.Is(err, errBodyTooLarge) {
		return nil, "", badAnswer(fmt.Errorf("response body over %d bytes (max_body_bytes)", c.cfg.MaxBodyBytes))
	}
	if errors.Is(err, errTooManyEvents) {
		return nil, "", err
	}
	if err != nil {
		return nil, "", bodyError(ctx, err)
	}
	next, err := nextCursor(resp.Header.Get("Next-Page"))
	if err != nil {
		return nil, "", badAnswer(err)
	}
	return p, next, nil
}

// do sends one request to the carrier with the API-Version (T&T's "2" when empty:
// GetPage names CT's) and credential headers, and drops a cached OAuth2 token the
// carrier refused with 401. The caller must already hold a slot (see acquire) and
// close the response body. Transport errors come back as requestError describes them,
// named after the method and the path.
func (c *Client) do(ctx context.Context, method, rawURL string, body []byte, apiVersion string) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if apiVersion == "" {
		apiVersion = "2"
	}
	req.Header.Set("API-Version", apiVersion)
	for name, value := range c.cfg.Auth.Headers {
		req.Header.Set(name, value)
	}
	tok, err := c.authorize(ctx, req)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, requestErrorOf(method+" "+c.apiPath(req.URL), err)
	}
	if resp.StatusCode == http.StatusUnauthorized && tok != nil {
		c.tokens.invalidate(ctx, tok)
	}
	return resp, nil
}

// apiPath is u's path from /v2 on, the part of the URL that names the operation
// ("/v2/events"), without the base_url's prefix or the query.
func (c *Client) apiPath(u *url.URL) string {
	if i := strings.Index(u.Path, "/v2/"); i >= 0 {
		return u.Path[i:]
	}
	return u.Path
}

// acquire waits for a concurrency slot, then for the rate limiter.
func (c *Client) acquire(ctx context.Context) error {
	if c.slots != nil {
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("waiting for a free connection (max_concurrency %d): %w", c.cfg.MaxConcurrency, ctx.Err())
		}
	}
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			c.release()
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return fmt.Errorf("waiting for the rate limit (requests_per_second %g): %w", c.cfg.RequestsPerSecond, err)
		}
	}
	return nil
}

func (c *Client) release() {
	if c.slots != nil {
		<-c.slots
	}
}

// authorize sets the OAuth2 bearer token, if the client uses one, and returns it.
func (c *Client) authorize(ctx context.Context, req *http.Request) (*oauth2.Token, error) {
	if c.tokens == nil {
		return nil, nil
	}
	tok, err := c.tokens.token(ctx)
	if err != nil {
		return nil, err
	}
	tok.SetAuthHeader(req)
	return tok, nil
}

// minCredentialLen is the length from which a header value counts as a credential to
// redact; shorter values (a version number, "true") would mangle ordinary text.
const minCredentialLen = 8

// maxCursorLen bounds the cursor sent back in the query string.
const maxCursorLen = 2048

// nextCursor reads the Next-Page header. DCSA documents it as a cursor, but some
// servers send a URL; then only its cursor parameter is used, never the URL itself,
// which could point anywhere and would receive the credentials.
func nextCursor(header string) (string, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return "", nil
	}
	if len(header) > maxCursorLen {
		return "", fmt.Errorf("the Next-Page header is over %d bytes", maxCursorLen)
	}
	if !strings.ContainsAny(header, "?/") {
		return header, nil
	}
	u, err := url.Parse(header)
	if err != nil {
		return "", errors.New("unreadable Next-Page header")
	}
	cursor := u.Query().Get("cursor")
	if cursor == "" {
		return "", errors.New("the Next-Page header has no cursor parameter")
	}
	return cursor, nil
}

// errBodyTooLarge is returned when a page is over Config.MaxBodyBytes.
var errBodyTooLarge = errors.New("response body too large")

// limitedReader reads at most left bytes and then fails with errBodyTooLarge rather
// than ending quietly as io.LimitReader does, so a cut body is not mistaken for
// malformed JSON.
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Check whether the body really goes on before failing.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	p = p[:min(int64(len(p)), l.left)]
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}
