package notifier

import (
	"context"
	"fmt"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// TestEndpoint sends an endpoint.test event to ep now and returns the receiver's
// answer as an attempt, for the "test your integration" step. It goes the way of
// every delivery to the endpoint: signed with the endpoint's live secrets in its
// header style, through the SSRF guard, its host's breaker and places and the
// account's delivery slots. A test while the host's breaker is open, or with no place
// free in time, is not sent: the attempt says so in Error, with no status.
//
// Nothing is recorded, and nothing of the answer is applied: Outcome is aborted and
// Disable set when the receiver answered as it would have to make a delivery so
// (abort-message, disable, 410), so that the user sees the receiver's control header
// was understood. The error is ctx's, when it ends first.
func (n *Notifier) TestEndpoint(ctx context.Context, ep references.Endpoint) (references.DeliveryAttempt, error) {
	now := n.opts.Clock.Now()
	event := webhook.NewTestEvent(references.NewID("evt_"), ep.ID, now)
	body, err := event.Encode()
	if err != nil {
		return references.DeliveryAttempt{}, err
	}
	req := Request{URL: ep.URL, UpdateID: event.ID, Body: body, Secrets: ep.LiveSecrets(now), Headers: ep.Headers}
	res := n.sendOnce(ctx, ep.AccountID, req)
	if err := ctx.Err(); err != nil {
		return references.DeliveryAttempt{}, fmt.Errorf("test endpoint %s: %w", ep.ID, err)
	}
	a := references.DeliveryAttempt{
		Destination: ep.ID, UpdateID: event.ID, Attempt: 1, URL: ep.URL, At: res.At,
		StatusCode: res.StatusCode, Error: res.ErrText(), LatencyMS: res.Latency.Milliseconds(),
		ResponseBody: res.Body, Outcome: res.Outcome,
	}
	switch {
	case res.Control.Disable:
		a.Disable = references.DisabledByReceiver
	case res.Outcome == references.OutcomeGone:
		a.Disable = references.DisabledGone
	}
	if res.Outcome == references.OutcomeFailed && res.Control.AbortMessage {
		a.Outcome = references.OutcomeAborted
	}
	return a, nil
}

// sendOnce resolves req's host and sends it as attempt does, without a stream: what
// could not be sent is a Result saying why.
func (n *Notifier) sendOnce(ctx context.Context, account string, req Request) Result {
	to, err := n.sender.resolve(ctx, req.URL)
	if err != nil {
		return n.sender.unsent(err)
	}
	req.to = to
	res, err := n.send(ctx, account, req)
	if err != nil {
		return n.sender.unsent(fmt.Errorf("not sent: %w", err))
	}
	return res
}
