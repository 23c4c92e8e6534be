// Package dcsa3 is a tracking source for a carrier's DCSA Container Tracking 3.0 API
// (in dcsaorg/Conformance-Gateway, TNT v3.0.0: the successor of Track & Trace 2.2).
// It polls the publisher's GET /events and reads the body of the subscriber's
// POST /events that a carrier pushes (ParsePush), mapping both to trackhook's
// domain types as poller/dcsa maps T&T 2.2 events.
package dcsa3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/references"
)

// APIVersion is the API-Version header sent with every request: the version of the
// standard this package implements.
const APIVersion = "3.0.0"

// Client fetches the events of one shipment from one carrier's CT 3.0 endpoint. It
// is safe for concurrent use; the rate and concurrency limits are shared by all
// callers.
type Client struct {
	name   string
	cfg    Config
	events *url.URL // base URL + /events
	api    *dcsa.Client
	log    *slog.Logger
}

// Option changes how New builds a Client.
type Option func(*options)

type options struct {
	dcsa []dcsa.Option
	log  *slog.Logger
}

// WithHTTPClient replaces the HTTP client New builds. Config.Timeout is then not
// applied: the given client's own timeout is.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *options) { o.dcsa = append(o.dcsa, dcsa.WithHTTPClient(hc)) }
}

// WithClock sets the clock used to read Retry-After dates and to expire OAuth2 tokens.
// The default, and nil, is the real clock.
func WithClock(clk clock.Clock) Option {
	return func(o *options) { o.dcsa = append(o.dcsa, dcsa.WithClock(clk)) }
}

// WithLogger sets the logger that reports skipped events. The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}

// New returns a Client for the carrier called name (used in error texts, such as
// "dcsa-ct MAEU: ..."). It checks cfg and fills its zero limits with the defaults of
// poller/dcsa.
func New(name string, cfg Config, opts ...Option) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dcsa-ct %s: %w", name, err)
	}
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	// The limits this package checks itself (max_pages, max_events) are the same
	// numbers as the requests'.
	cfg.Config = cfg.Config.WithDefaults()
	api, err := dcsa.New(name, cfg.Config, o.dcsa...)
	if err != nil {
		return nil, fmt.Errorf("dcsa-ct %s: %w", name, err)
	}
	base, err := url.Parse(cfg.BaseURL) // checked by Validate
	if err != nil {
		return nil, fmt.Errorf("dcsa-ct %s: base_url: %w", name, err)
	}
	return &Client{name: name, cfg: cfg, events: base.JoinPath("events"), api: api, log: o.log}, nil
}

// Snapshot is a shipment as a poll finds it, with the versions of its events for
// Merge.
type Snapshot struct {
	Shipment *references.Shipment
	Versions Versions
}

// Fetch returns the shipment's events, following pagination: Snapshot's shipment.
func (c *Client) Fetch(ctx context.Context, ref references.Reference) (*references.Shipment, error) {
	s, err := c.Snapshot(ctx, ref)
	if err != nil {
		return nil, err
	}
	return s.Shipment, nil
}

// Snapshot returns the shipment's events and their versions, following pagination.
// The events of every page are resolved together as the standard says: of the
// versions of one eventID the latest eventUpdatedDateTime stands, and a retracted
// event is left out. Events are sorted by time (stable, so the carrier's order
// breaks ties). An empty result, or a 404, is an error wrapping
// references.ErrShipmentNotFound: CT 3.0 answers an unknown reference with an empty
// list. IoT and reefer events are not asked for, and left out if sent. A container
// reference gets its own events and those that name no container (as poller/dcsa's);
// a bill of lading or booking every container's, which tracking.Derive groups by
// equipment reference.
// Other failures are a *references.SourceError, as poller/dcsa's Fetch returns them:
// rate limited (429, with its Retry-After), unavailable (5xx, 408, timeouts,
// connection errors), bad request (other 4xx, or an identifier the API does not take:
// see CheckReference) or bad answer (a body or a status that cannot be used).
func (c *Client) Snapshot(ctx context.Context, ref references.Reference) (*Snapshot, error) {
	query, err := filter(ref)
	if err != nil {
		return nil, fmt.Errorf("dcsa-ct %s: %w", c.name, &references.SourceError{Kind: references.ErrSourceBadRequest, Err: err})
	}
	if c.cfg.PageSize > 0 {
		query.Set(paramLimit, strconv.Itoa(c.cfg.PageSize))
	}
	records, err := c.fetchAll(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("dcsa-ct %s: %w", c.name, err)
	}
	events, versions := snapshotOf(resolve(records))
	if len(events) == 0 {
		return nil, fmt.Errorf("dcsa-ct %s: no events for %s: %w", c.name, describe(query), references.ErrShipmentNotFound)
	}
	if ref.ContainerID != "" {
		var ok bool
		if events, ok = dcsa.OwnEvents(events, ref.ContainerID); !ok {
			return nil, fmt.Errorf("dcsa-ct %s: no events for %s, only for other containers: %w", c.name, describe(query), references.ErrShipmentNotFound)
		}
	}
	slices.SortStableFunc(events, func(a, b references.Event) int { return a.Time.Compare(b.Time) })
	return &Snapshot{Shipment: &references.Shipment{Events: events}, Versions: versions}, nil
}

// fetchAll returns the records of every page, in the order received.
func (c *Client) fetchAll(ctx context.Context, query url.Values) ([]Record, error) {
	var (
		records []Record
		total   int
		skipped []string
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
			c.log.WarnContext(ctx, "dcsa-ct: skipped unusable events", "source", c.name, "page", n, "skipped", p.nSkip, "reasons", p.skipped())
			skipped = append(skipped, p.skipped()...)
		}
		records = append(records, p.records...)
		if next == "" {
			break
		}
		if n >= c.cfg.MaxPages {
			return nil, badAnswer(fmt.Errorf("more than %d pages (max_pages): the server keeps paginating", c.cfg.MaxPages))
		}
		if cursors[next] {
			return nil, badAnswer(errors.New("the server sent the same Next-Page-Cursor twice"))
		}
		cursors[next] = true
		query.Set(paramCursor, next)
	}
	if len(records) == 0 && len(skipped) > 0 {
		// Every event was refused: more likely a format this client does not read than
		// a shipment without events, so say so instead of "not found".
		return nil, badAnswer(fmt.Errorf("none of the %d events could be used: %s", total, strings.Join(skipped[:min(len(skipped), maxSkipReasons)], "; ")))
	}
	return records, nil
}

// maxCursorLen bounds the cursor sent back in the query string.
const maxCursorLen = 2048

// fetchPage makes one request and parses its events, reading at most maxEvents. It
// returns the Next-Page-Cursor, "" on the last page.
func (c *Client) fetchPage(ctx context.Context, query url.Values, maxEvents int) (*page, string, error) {
	u := *c.events
	u.RawQuery = query.Encode()
	resp, err := c.api.GetPage(ctx, dcsa.PageRequest{URL: &u, APIVersion: APIVersion, ErrorDetails: feedbackDetails})
	if err != nil {
		return nil, "", err
	}
	defer resp.Close()
	p, err := parseBody(resp.Body, maxEvents)
	switch {
	case errors.Is(err, errTooManyEvents):
		return nil, "", err
	case err != nil:
		return nil, "", dcsa.BodyError(ctx, err)
	}
	// The spec names the header's value as the cursor to send: it is never a URL to
	// follow, so it cannot send the credentials elsewhere.
	next := strings.TrimSpace(resp.Header.Get("Next-Page-Cursor"))
	if len(next) > maxCursorLen {
		return nil, "", badAnswer(fmt.Errorf("the Next-Page-Cursor header is over %d bytes", maxCursorLen))
	}
	return p, next, nil
}

// badAnswer marks err as an answer of the carrier that cannot be used.
func badAnswer(err error) error {
	return &references.SourceError{Kind: references.ErrSourceBadAnswer, Err: err}
}
