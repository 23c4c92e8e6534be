package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/tracking"
)

// maxRefIDLen bounds the :ref_id looked up: trackhook's ids are far shorter, and a
// longer one is nobody's.
const maxRefIDLen = 128

// tnt receives a T&T 2.2 notification for the subscription of reference :ref_id at
// source :source. In order: the reference must hold a subscription of that source
// (404), the body fit dcsa.MaxNotificationBytes (413), the Subscription-ID header
// name the subscription (400) and one of its live secrets have signed the body (401),
// the body be events (400); then the events are merged into the reference's snapshot
// and recorded, and the carrier gets 204. A retry of a notification already recorded
// is 204 too and changes nothing; so is one for a reference no longer tracked (paused
// or ended: its subscription is deleted in time). Nothing is written before the
// signature is verified, nor when a step refuses.
func (h *handler) tnt(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	name, refID := c.Param("source"), c.Param("ref_id")
	src, label, ok := h.source(name, poller.PushSubscription)
	rep := Report{Source: label, Model: poller.PushSubscription}
	if !ok {
		return h.tntAnswer(c, rep, refID, OutcomeUnknownSubscription, fmt.Errorf("%w: no source %q takes T&T 2.2 notifications", dcsa.ErrUnknownSubscription, name))
	}
	ref, err := h.subscribed(ctx, name, refID)
	if err != nil {
		return h.tntAnswer(c, rep, refID, outcomeOf(err), err)
	}
	body, err := readBody(req, dcsa.MaxNotificationBytes)
	switch {
	case errors.Is(err, errTooLarge):
		return h.tntAnswer(c, rep, refID, OutcomeTooLarge, fmt.Errorf("%w: over %d bytes", dcsa.ErrNotificationTooLarge, dcsa.MaxNotificationBytes))
	case err != nil:
		return h.tntAnswer(c, rep, refID, OutcomeMalformed, fmt.Errorf("%w: %w", dcsa.ErrMalformedNotification, err))
	}
	if err := dcsa.VerifyNotificationRequest(req.Header, body, ref.Push.ID, ref.Push.LiveSecrets(h.clock.Now())); err != nil {
		return h.tntAnswer(c, rep, refID, outcomeOf(err), err)
	}
	events, err := h.parseNotification(ctx, src, ref, body)
	if err != nil {
		return h.tntAnswer(c, rep, refID, outcomeOf(err), err)
	}
	if len(events) == 0 {
		// An empty array, or only other containers' events: nothing to merge.
		return h.tntAnswer(c, rep, refID, OutcomeDuplicate, nil)
	}
	n, err := h.applier.ApplyPush(ctx, ref.ID, unionMerge(events))
	rep.Updates = n
	switch {
	case errors.Is(err, poller.ErrNotTracked):
		return h.tntAnswer(c, rep, refID, OutcomeNotTracked, nil)
	case err != nil:
		return h.tntAnswer(c, rep, refID, OutcomeError, fmt.Errorf("record the notification: %w", err))
	case n == 0:
		return h.tntAnswer(c, rep, refID, OutcomeDuplicate, nil)
	}
	return h.tntAnswer(c, rep, refID, OutcomeApplied, nil)
}

// subscribed returns the reference refID if it holds a subscription at source; an
// error wrapping dcsa.ErrUnknownSubscription otherwise.
func (h *handler) subscribed(ctx context.Context, source, refID string) (references.Reference, error) {
	if refID == "" || len(refID) > maxRefIDLen {
		return references.Reference{}, fmt.Errorf("%w: no such reference", dcsa.ErrUnknownSubscription)
	}
	ref, err := h.store.ReferenceByID(ctx, refID)
	switch {
	case errors.Is(err, references.ErrNotFound):
		return ref, fmt.Errorf("%w: no such reference", dcsa.ErrUnknownSubscription)
	case err != nil:
		return ref, fmt.Errorf("read the reference: %w", err)
	case ref.Push == nil || ref.Push.ID == "" || ref.Push.Source != source:
		return ref, fmt.Errorf("%w: the reference has no subscription at %s", dcsa.ErrUnknownSubscription, source)
	}
	return ref, nil
}

// parseNotification reads the events of body with the source's parser.
func (h *handler) parseNotification(ctx context.Context, src Source, ref references.Reference, body []byte) ([]references.Event, error) {
	if src.Notifications != nil {
		return src.Notifications.ParseNotification(ctx, ref, body)
	}
	return dcsa.ParseNotification(body)
}

// outcomeOf names the outcome of an error of the T&T 2.2 route.
func outcomeOf(err error) string {
	switch {
	case errors.Is(err, dcsa.ErrBadSignature):
		return OutcomeBadSignature
	case errors.Is(err, dcsa.ErrUnknownSubscription), errors.Is(err, dcsa.ErrSubscriptionMismatch):
		return OutcomeUnknownSubscription
	case errors.Is(err, dcsa.ErrNotificationTooLarge):
		return OutcomeTooLarge
	case errors.Is(err, dcsa.ErrMalformedNotification):
		return OutcomeMalformed
	}
	return OutcomeError
}

// tntAnswer answers a notification: 204 when err is nil, else the status
// dcsa.CallbackStatus gives err with an error body in the shape of T&T 2.2's errors.
// It reports the push and logs what was refused: the reason, never the body or a
// header's value.
func (h *handler) tntAnswer(c echo.Context, rep Report, refID, outcome string, err error) error {
	rep.Outcome = outcome
	h.observe(rep)
	ctx := c.Request().Context()
	attrs := []slog.Attr{
		slog.String("source", rep.Source), slog.String("model", string(rep.Model)),
		slog.String("ref_id", clip(refID)), slog.String("outcome", outcome),
	}
	status := dcsa.CallbackStatus(err)
	if errors.Is(err, references.ErrBusy) {
		// A poll held the reference past ApplyPush's wait: the carrier sends the
		// notification again after Retry-After.
		status = http.StatusServiceUnavailable
		c.Response().Header().Set("Retry-After", retryAfterBusy)
	}
	if err == nil {
		h.log.LogAttrs(ctx, slog.LevelDebug, "inbound push", append(attrs, slog.Int("updates", rep.Updates))...)
		return c.NoContent(status)
	}
	h.log.LogAttrs(ctx, refusalLevel(outcome), "inbound push refused", append(attrs, slog.Int("status", status), slog.String("err", err.Error()))...)
	req := c.Request()
	return c.JSON(status, tntError{
		HTTPMethod: req.Method, RequestURI: req.URL.Path, StatusCode: status, StatusCodeText: http.StatusText(status),
		ErrorDateTime: h.clock.Now().UTC().Format(time.RFC3339),
		Errors:        []tntSubError{{Reason: tntReason(outcome), Message: tntMessage(outcome, err)}},
	})
}

// retryAfterBusy is the Retry-After of a push answered 503 because a poll held its
// reference: polls take seconds.
const retryAfterBusy = "5"

// refusalLevel is the log level of a refused push: warn for what an operator must
// look at (a carrier signing with a secret trackhook no longer has, a failure to
// record), info for the rest, which anyone on the internet can cause.
func refusalLevel(outcome string) slog.Level {
	switch outcome {
	case OutcomeBadSignature, OutcomeUnauthorized, OutcomeError:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// clip bounds a value of the URL before it is logged.
func clip(s string) string {
	if len(s) > maxRefIDLen {
		return s[:maxRefIDLen] + "..."
	}
	return s
}

// tntError is T&T 2.2's error object (components.schemas.error).
type tntError struct {
	HTTPMethod     string        `json:"httpMethod"`
	RequestURI     string        `json:"requestUri"`
	StatusCode     int           `json:"statusCode"`
	StatusCodeText string        `json:"statusCodeText"`
	ErrorDateTime  string        `json:"errorDateTime"`
	Errors         []tntSubError `json:"errors"`
}

type tntSubError struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func tntReason(outcome string) string {
	switch outcome {
	case OutcomeBadSignature:
		return "unauthorized"
	case OutcomeUnknownSubscription:
		return "notFound"
	case OutcomeTooLarge:
		return "payloadTooLarge"
	case OutcomeMalformed:
		return "invalidInput"
	}
	return "internalError"
}

// tntMessage is the message of an error answer. Trackhook's own failures are not
// described to the carrier: they are logged.
func tntMessage(outcome string, err error) string {
	if outcome == OutcomeError {
		return "the notification could not be recorded; send it again later"
	}
	return err.Error()
}

// unionMerge returns the merge of a notification's events into a stored snapshot:
// the union of both by event id, where a pushed event replaces the stored one of its
// id, and an event without id is added unless the snapshot tells it already. A
// notification retried by the carrier thus changes nothing, and one that arrives
// after a poll or an earlier push (in whatever order) keeps what they brought.
func unionMerge(pushed []references.Event) poller.PushMerge {
	return func(stored *references.Shipment) (*references.Shipment, error) {
		var events []references.Event
		if stored != nil {
			events = stored.Events
		}
		return &references.Shipment{Events: tracking.UnionEvents(events, pushed)}, nil
	}
}
