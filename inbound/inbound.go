// Package inbound receives the events carriers push to trackhook: the callbacks of
// DCSA Track & Trace 2.2 event subscriptions (POST /inbound/dcsa/:source/:ref_id,
// signed per subscription) and DCSA Container Tracking 3.0's subscriber endpoint
// (POST /inbound/dcsa-ct/:source/events, authenticated by the source's inbound_auth).
// Each push is checked, parsed with the source's own parser, merged into the stored
// snapshot of the references it concerns, and recorded through the poller's
// ApplyPush: the same derive, diff, feed and delivery path as a poll, under the same
// lease.
//
// It is apart from api/ because nothing about it is the REST API's: its callers are
// carriers, not API clients, so it takes no API key (a signature or the source's
// credential instead), answers in the DCSA standards' shapes rather than the API's
// errors, and writes through the poller rather than the references service. It only
// shares the API's HTTP server, so that the carrier reaches it at --public-url.
//
// Several instances: any instance may receive any push. A route reads the reference
// from the shared store and records through ApplyPush, which takes the reference's
// poll lease (waiting for a poll in flight on any instance to record first), so two
// instances receiving pushes, or polling, for one reference at once never lose
// either result. Nothing is kept in memory between requests.
package inbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/references"
)

// Prefix is the path under which every inbound route is served.
const Prefix = "/inbound"

// Paths of the two routes, as echo routes; PathTNT's :ref_id is the id of the
// reference the subscription was made for.
const (
	PathTNT = Prefix + "/dcsa/:source/:ref_id"
	PathCT  = Prefix + "/dcsa-ct/:source/events"
)

// TNTCallbackURL returns the callback URL of a T&T 2.2 subscription of source for
// reference refID, under publicURL (--public-url): where the carrier pushes.
func TNTCallbackURL(publicURL, source, refID string) string {
	return strings.TrimSuffix(publicURL, "/") + Prefix + "/dcsa/" + source + "/" + refID
}

// CTEventsURL returns the URL a Container Tracking 3.0 carrier is registered to post
// its events to, under publicURL (--public-url).
func CTEventsURL(publicURL, source string) string {
	return strings.TrimSuffix(publicURL, "/") + Prefix + "/dcsa-ct/" + source + "/events"
}

// Applier records a push: *poller.Poller implements it.
type Applier interface {
	ApplyPush(ctx context.Context, refID string, merge poller.PushMerge) (int, error)
}

// Store is what the routes read of the store: both backends implement it (see
// references.PushStore).
type Store interface {
	ReferenceByID(ctx context.Context, id string) (references.Reference, error)
	ActiveReferencesByIdentifier(ctx context.Context, kind references.IdentifierKind, value, carrierCode string) ([]references.Reference, error)
}

// NotificationParser reads the events of a T&T 2.2 notification for a reference, as
// the source polls it: *dcsa.Client implements it.
type NotificationParser interface {
	ParseNotification(ctx context.Context, ref references.Reference, body []byte) ([]references.Event, error)
}

// Source is the push settings of one source of the sources file, by the name the
// routes take as :source (its carrier code).
type Source struct {
	// Model is the source's push model: PushSubscription sources are reached at
	// PathTNT, PushReceiver sources at PathCT.
	Model poller.PushModel
	// Notifications parses a notification's events (PushSubscription); nil parses
	// with dcsa.ParseNotification, which keeps every container's events.
	Notifications NotificationParser
	// Auth is the credential the carrier sends with each push (PushReceiver, where it
	// is required).
	Auth *poller.InboundAuth
	// CarrierCodes are the carrier codes of the references the source serves, whose
	// identifiers a push is matched against (PushReceiver); nil: the source's name.
	CarrierCodes []string
}

// Report is one push as it was answered, for metrics.
type Report struct {
	// Source is the name of a configured source, or "unknown" when the URL names
	// none (a label must take a bounded set of values).
	Source string
	// Model is the source's push model ("subscription" or "receiver").
	Model poller.PushModel
	// Outcome is one of the Outcome constants.
	Outcome string
	// Updates is the number of updates the push appended, over all its references.
	Updates int
}

// Outcomes of a push, as trackhook_inbound_pushes_total counts them.
const (
	OutcomeApplied             = "applied"              // updates were appended
	OutcomeDuplicate           = "duplicate"            // accepted, nothing new
	OutcomeNotTracked          = "not_tracked"          // accepted and ignored: no reference tracks it now
	OutcomeBadSignature        = "bad_signature"        // T&T 2.2: no live secret signed the body
	OutcomeUnknownSubscription = "unknown_subscription" // no such source, reference or subscription
	OutcomeUnauthorized        = "unauthorized"         // CT 3.0: the credential is missing or wrong
	OutcomeMalformed           = "malformed"            // the body cannot be used
	OutcomeTooLarge            = "too_large"            // over the size or event bounds
	OutcomeError               = "error"                // trackhook could not record it; the carrier retries
)

// Outcomes lists every outcome, for metrics to create their series at zero.
var Outcomes = []string{
	OutcomeApplied, OutcomeDuplicate, OutcomeNotTracked, OutcomeBadSignature, OutcomeUnknownSubscription,
	OutcomeUnauthorized, OutcomeMalformed, OutcomeTooLarge, OutcomeError,
}

// UnknownSource is the Report.Source of a push to a source that is not configured.
const UnknownSource = "unknown"

// Options configures Register.
type Options struct {
	// Applier records pushes (the poller); required.
	Applier Applier
	// Store finds the references a push is for; required.
	Store Store
	// Sources are the sources that take pushes, by name (carrier code). A push to a
	// name not in it, or to the route of another model, is refused with 404.
	Sources map[string]Source
	// Clock tells which subscription secrets are live; the real clock by default.
	Clock clock.Clock
	// Logger gets refused and failed pushes, never a secret or a body; nil discards.
	Logger *slog.Logger
	// Observe, when set, is called once for every push answered.
	Observe func(Report)
}

// Register adds the inbound routes to e: the API's echo, so that they share its
// server, its request logs and its request ids, but not its authentication (routes
// carry their API-key middleware themselves; these carry none). It fails when opts
// lack what the routes need.
func Register(e *echo.Echo, opts Options) error {
	if opts.Applier == nil || opts.Store == nil {
		return errors.New("inbound: an Applier and a Store are required")
	}
	for name, src := range opts.Sources {
		switch src.Model {
		case poller.PushSubscription:
		case poller.PushReceiver:
			if src.Auth == nil || src.Auth.Header == "" || src.Auth.Secret == "" {
				return fmt.Errorf("inbound: source %s: a receiver needs its inbound_auth", name)
			}
		default:
			return fmt.Errorf("inbound: source %s: push model %q is not one the routes take", name, src.Model)
		}
	}
	h := &handler{
		applier: opts.Applier, store: opts.Store, sources: opts.Sources,
		clock: clock.OrReal(opts.Clock), log: opts.Logger, observe: opts.Observe,
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.observe == nil {
		h.observe = func(Report) {}
	}
	e.POST(PathTNT, h.tnt)
	e.POST(PathCT, h.ct)
	return nil
}

// handler holds what the routes share.
type handler struct {
	applier Applier
	store   Store
	sources map[string]Source
	clock   clock.Clock
	log     *slog.Logger
	observe func(Report)
}

// source returns the configured source called name if it has model, and the name
// to report it under.
func (h *handler) source(name string, model poller.PushModel) (Source, string, bool) {
	src, ok := h.sources[name]
	if !ok || src.Model != model {
		return Source{}, UnknownSource, false
	}
	return src, name, true
}

// errTooLarge is a body over a route's bound.
var errTooLarge = errors.New("body too large")

// readBody reads the request's body, at most max bytes: a longer one is errTooLarge
// (refused from its Content-Length without reading it when it says so).
func readBody(req *http.Request, max int64) ([]byte, error) {
	if req.ContentLength > max {
		return nil, errTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("read the body: %w", err)
	}
	if int64(len(body)) > max {
		return nil, errTooLarge
	}
	return body, nil
}
