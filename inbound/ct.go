package inbound

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa3"
	"github.com/trackhook/trackhook/references"
)

// MaxPushLookups bounds the distinct identifiers (times the carrier codes the source
// serves) one CT 3.0 push may make trackhook look up: each is a read of the store. A
// carrier sends a few events per push; a push naming more is refused with 413, as
// one with too many events is, and can be sent again in smaller parts.
const MaxPushLookups = 2000

// ct receives a Container Tracking 3.0 POST /events from the carrier of source
// :source. The credential of the source's inbound_auth must be there (401), the body
// fit dcsa3.MaxPushBytes and MaxPushEvents (413) and be a PostEventsRequest (400);
// then every active reference, of any account, whose identifier an event names with
// a carrier code the source serves gets the events that concern it merged into its
// snapshot (dcsa3.Merge: later versions replace earlier ones, retractions remove
// events) and recorded. The answer is the standard's: 200 with the feedbackElements
// of the events not used, or an error with feedbackElements; 2xx only once every
// reference's result is recorded, so that a failure makes the carrier send the push
// again, which changes nothing where it was recorded already.
func (h *handler) ct(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	c.Response().Header().Set("API-Version", dcsa3.APIVersion)
	name := c.Param("source")
	src, label, ok := h.source(name, poller.PushReceiver)
	rep := Report{Source: label, Model: poller.PushReceiver}
	if !ok {
		return h.ctRefuse(c, rep, http.StatusNotFound, OutcomeUnknownSubscription, "no source takes Container Tracking 3.0 events at this URL", nil)
	}
	if !src.Auth.Allows(req.Header) {
		return h.ctRefuse(c, rep, http.StatusUnauthorized, OutcomeUnauthorized,
			fmt.Sprintf("the %s header does not carry this source's credential", src.Auth.Header), nil)
	}
	body, err := readBody(req, dcsa3.MaxPushBytes)
	switch {
	case errors.Is(err, errTooLarge):
		return h.ctRefuse(c, rep, http.StatusRequestEntityTooLarge, OutcomeTooLarge,
			fmt.Sprintf("the body is over %d bytes: send fewer events per request", dcsa3.MaxPushBytes), nil)
	case err != nil:
		return h.ctRefuse(c, rep, http.StatusBadRequest, OutcomeMalformed, err.Error(), nil)
	}
	push, err := dcsa3.ParsePush(body)
	switch {
	case errors.Is(err, dcsa3.ErrPushTooLarge):
		return h.ctRefuse(c, rep, http.StatusRequestEntityTooLarge, OutcomeTooLarge, err.Error()+": send fewer events per request", nil)
	case err != nil:
		return h.ctRefuse(c, rep, http.StatusBadRequest, OutcomeMalformed, err.Error(), nil)
	case push.Total > 0 && len(push.Records) == 0 && !slices.ContainsFunc(push.Feedback, isInfo):
		// None of the events could be used: the standard's error answer, with why.
		return h.ctRefuse(c, rep, http.StatusBadRequest, OutcomeMalformed, "", push.Feedback)
	}
	refs, err := h.referencesOf(ctx, src, name, push)
	switch {
	case errors.Is(err, errTooManyLookups):
		return h.ctRefuse(c, rep, http.StatusRequestEntityTooLarge, OutcomeTooLarge, err.Error(), nil)
	case err != nil:
		return h.ctRefuse(c, rep, http.StatusInternalServerError, OutcomeError, "", nil, err)
	}
	matched, failed, busy := 0, 0, 0
	var lastErr error
	for _, ref := range refs {
		records := push.For(ref)
		if len(records) == 0 {
			continue
		}
		n, err := h.applier.ApplyPush(ctx, ref.ID, recordsMerge(records))
		switch {
		case errors.Is(err, poller.ErrNotTracked):
		case err != nil:
			failed++
			if errors.Is(err, references.ErrBusy) {
				busy++
			}
			lastErr = fmt.Errorf("reference %s: %w", ref.ID, err)
		default:
			matched++
			rep.Updates += n
		}
	}
	if failed > 0 {
		status := http.StatusInternalServerError
		if busy == failed {
			// Polls held the references past ApplyPush's wait: the carrier sends the
			// push again after Retry-After.
			status = http.StatusServiceUnavailable
			c.Response().Header().Set("Retry-After", retryAfterBusy)
		}
		return h.ctRefuse(c, rep, status, OutcomeError, "", nil,
			fmt.Errorf("record the push for %d of its %d references: %w", failed, len(refs), lastErr))
	}
	switch {
	case rep.Updates > 0:
		rep.Outcome = OutcomeApplied
	case matched > 0:
		rep.Outcome = OutcomeDuplicate
	default:
		rep.Outcome = OutcomeNotTracked
	}
	h.observe(rep)
	h.log.LogAttrs(ctx, slog.LevelDebug, "inbound push", slog.String("source", rep.Source), slog.String("model", string(rep.Model)),
		slog.String("outcome", rep.Outcome), slog.Int("events", push.Total), slog.Int("references", matched), slog.Int("updates", rep.Updates))
	answer := ctAnswer{Feedback: push.Feedback}
	if answer.Feedback == nil {
		answer.Feedback = []dcsa3.Feedback{}
	}
	return c.JSON(http.StatusOK, answer)
}

func isInfo(f dcsa3.Feedback) bool { return f.Severity == dcsa3.SeverityInfo }

// ctAnswer is the body of CT 3.0's PostEventsResponse and PostEventsError.
type ctAnswer struct {
	Feedback []dcsa3.Feedback `json:"feedbackElements"`
}

// ctRefuse answers a push that was not recorded with status and the standard's
// error body: feedback when given, else one ERROR with message (a generic one for
// trackhook's own failures, which are logged with cause instead). It reports the
// push and logs the refusal, never the body or the credential.
func (h *handler) ctRefuse(c echo.Context, rep Report, status int, outcome, message string, feedback []dcsa3.Feedback, cause ...error) error {
	rep.Outcome = outcome
	h.observe(rep)
	if outcome == OutcomeError {
		message = "the events could not be recorded; send them again later"
	}
	if len(feedback) == 0 {
		feedback = []dcsa3.Feedback{{Severity: dcsa3.SeverityError, Message: message}}
	}
	attrs := []slog.Attr{
		slog.String("source", rep.Source), slog.String("model", string(rep.Model)),
		slog.String("outcome", outcome), slog.Int("status", status),
	}
	if message != "" {
		attrs = append(attrs, slog.String("reason", message))
	}
	if err := errors.Join(cause...); err != nil {
		attrs = append(attrs, slog.String("err", err.Error()))
	}
	h.log.LogAttrs(c.Request().Context(), refusalLevel(outcome), "inbound push refused", attrs...)
	return c.JSON(status, ctAnswer{Feedback: feedback})
}

// errTooManyLookups: a push names more identifiers than MaxPushLookups.
var errTooManyLookups = errors.New("the events name too many shipments")

// referencesOf returns the active references, of every account, that track an
// identifier one of push's records names, with a carrier code src serves; each
// once, by id.
func (h *handler) referencesOf(ctx context.Context, src Source, name string, push *dcsa3.Push) ([]references.Reference, error) {
	type ident struct {
		kind  references.IdentifierKind
		value string
	}
	var idents []ident
	seen := map[ident]bool{}
	add := func(kind references.IdentifierKind, values []string) {
		for _, v := range values {
			id := ident{kind, v}
			if !seen[id] && storable(kind, v) {
				seen[id] = true
				idents = append(idents, id)
			}
		}
	}
	for _, r := range push.Records {
		add(references.KindContainer, r.Identifiers.Containers)
		add(references.KindBillOfLading, r.Identifiers.BillsOfLading)
		add(references.KindBooking, r.Identifiers.Bookings)
	}
	codes := src.CarrierCodes
	if len(codes) == 0 {
		codes = []string{name}
	}
	if n := len(idents) * len(codes); n > MaxPushLookups {
		return nil, fmt.Errorf("%w: %d identifiers to look up, at most %d: send fewer events per request", errTooManyLookups, n, MaxPushLookups)
	}
	byID := map[string]references.Reference{}
	for _, id := range idents {
		for _, code := range codes {
			refs, err := h.store.ActiveReferencesByIdentifier(ctx, id.kind, id.value, code)
			if err != nil {
				return nil, fmt.Errorf("find the references of %s %s: %w", id.kind, id.value, err)
			}
			for _, r := range refs {
				byID[r.ID] = r
			}
		}
	}
	out := make([]references.Reference, 0, len(byID))
	for _, r := range byID {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b references.Reference) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// storable reports whether value is an identifier of kind as trackhook stores it:
// no other can be tracked, so it is not looked up.
func storable(kind references.IdentifierKind, value string) bool {
	var got string
	var err error
	switch kind {
	case references.KindContainer:
		got, err = references.NormalizeContainerID(value)
	default:
		got, err = references.NormalizeDocumentNumber(string(kind), value)
	}
	return err == nil && got == value
}

// recordsMerge returns the merge of a push's records that concern one reference
// into its stored snapshot (see dcsa3.Merge). The stored events say their version
// (their RevisedAt, the eventUpdatedDateTime), so a pushed record replaces the stored
// event of its id only when it is a later version, or either has no time: a retried
// or late push changes nothing, and a retraction removes the event. Retractions are
// not kept with the snapshot: an older version pushed after one brings the event
// back, until the next push or poll.
func recordsMerge(records []dcsa3.Record) poller.PushMerge {
	return func(stored *references.Shipment) (*references.Shipment, error) {
		var events []references.Event
		if stored != nil {
			events = stored.Events
		}
		merged, _ := dcsa3.Merge(events, nil, records)
		return &references.Shipment{Events: merged}, nil
	}
}
