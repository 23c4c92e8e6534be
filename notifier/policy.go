package notifier

import (
	"context"
	"log/slog"
	"time"

	"github.com/trackhook/trackhook/references"
)

// The delivery policy: what an attempt's result comes to (the store then applies
// references.AfterAttempt, or AfterMessageAttempt for an endpoint), and how it is
// logged.

// decide turns a Result into the logged attempt: delivered, gone, failed with the
// time of the next retry, or given up when the retry window is over; and, for a
// callback, says whether the reference is to be unsubscribed because its callback
// has failed for too long. An endpoint's job follows the endpoint's own policy (see
// decideEndpoint) and never unsubscribes the reference.
func (n *Notifier) decide(job references.DeliveryJob, res Result) (references.DeliveryAttempt, references.UnsubscribeReason) {
	a := references.DeliveryAttempt{
		Destination: job.Destination,
		ReferenceID: job.Reference.ID, UpdateID: job.MessageID(), Sequence: jobSequence(&job),
		Attempt: job.Attempt, URL: job.URL(), At: res.At,
		StatusCode: res.StatusCode, Error: res.ErrText(), LatencyMS: res.Latency.Milliseconds(),
		ResponseBody: res.Body, Outcome: res.Outcome, Redelivery: job.Redelivery,
	}
	if job.Endpoint != nil {
		return n.decideEndpoint(&job, res, a), ""
	}
	if res.Outcome != references.OutcomeFailed || job.Redelivery {
		return a, ""
	}
	next, giveUp := n.opts.Retry.Next(job.Attempt, firstAttempt(&job, res), res.At, res.RetryAfter, n.opts.Rand)
	if giveUp {
		a.Outcome = references.OutcomeGaveUp
	} else {
		a.NextRetryAt = &next
	}
	failingSince := res.At
	if job.Reference.FailingSince != nil {
		failingSince = *job.Reference.FailingSince
	}
	if res.At.Sub(failingSince) >= n.opts.UnsubscribeFailingAfter {
		return a, references.ReasonCallbackFailing
	}
	return a, ""
}

// decideEndpoint completes the attempt a of an endpoint's job. The receiver's
// webhook-delivery header is honoured: disable disables the endpoint (its message
// waits, to be tried again once it is re-enabled), abort-message fails the message
// as aborted. A 410 disables the endpoint as gone; the reference is never
// unsubscribed for it, since other destinations still want its updates. A failure is
// retried by the endpoint's policy: MaxAttempts attempts when set, otherwise for its
// RetryWindow (the notifier's when 0). A message given up disables the endpoint when
// it has been failing for DisableAfter (so MaxAttempts 5 with DisableAfter 0 is "five
// attempts, then disabled"). A resend is one attempt, never retried.
func (n *Notifier) decideEndpoint(job *references.DeliveryJob, res Result, a references.DeliveryAttempt) references.DeliveryAttempt {
	ep := job.Endpoint
	switch {
	case res.Control.Disable:
		a.Disable = references.DisabledByReceiver
	case res.Outcome == references.OutcomeGone:
		a.Disable = references.DisabledGone
	}
	if res.Outcome != references.OutcomeFailed || job.Redelivery {
		return a
	}
	if res.Control.AbortMessage {
		a.Outcome = references.OutcomeAborted
		return a
	}
	if a.Disable != "" {
		return a // no retry time: the message is due again when the endpoint is re-enabled
	}
	policy := n.opts.Retry
	if ep.RetryWindow > 0 {
		policy.Window = ep.RetryWindow
	}
	var next time.Time
	giveUp := ep.MaxAttempts > 0 && job.Attempt >= ep.MaxAttempts
	switch {
	case ep.MaxAttempts > 0 && !giveUp:
		next = policy.After(job.Attempt, res.At, res.RetryAfter, n.opts.Rand)
	case ep.MaxAttempts <= 0:
		next, giveUp = policy.Next(job.Attempt, firstAttempt(job, res), res.At, res.RetryAfter, n.opts.Rand)
	}
	if !giveUp {
		a.NextRetryAt = &next
		return a
	}
	a.Outcome = references.OutcomeGaveUp
	failingSince := res.At
	if ep.FailingSince != nil {
		failingSince = *ep.FailingSince
	}
	if res.At.Sub(failingSince) >= ep.DisableAfter {
		a.Disable = references.DisabledFailing
	}
	return a
}

// firstAttempt is when the job's message was first tried: now, on its first attempt.
func firstAttempt(job *references.DeliveryJob, res Result) time.Time {
	if job.FirstAttemptAt.IsZero() {
		return res.At
	}
	return job.FirstAttemptAt
}

// jobSequence is the sequence of the job's (first) message: the update's in its
// reference's feed, or the operational event's in its account's.
func jobSequence(job *references.DeliveryJob) uint64 {
	if job.Event != nil {
		return job.Event.Sequence
	}
	return job.Update.Sequence
}

// destinationName names the job's destination in logs; jobs made before endpoints
// carry none and go to the callback.
func destinationName(job *references.DeliveryJob) string {
	if job.Destination == "" {
		return references.DestinationCallback
	}
	return job.Destination
}

func (n *Notifier) logAttempt(job references.DeliveryJob, a references.DeliveryAttempt, ref references.Reference) {
	if a.Outcome == references.OutcomeDelivered && a.Disable == "" && !n.log.Enabled(context.Background(), slog.LevelDebug) {
		return // the usual case: its attributes are not even built (some 20 allocations)
	}
	idKey := "update_id"
	if job.Event != nil {
		idKey = "event_id"
	}
	attrs := []any{
		"destination", destinationName(&job), "reference_id", job.Reference.ID, idKey, a.UpdateID, "sequence", a.Sequence,
		"attempt", a.Attempt, "outcome", a.Outcome, "status", a.StatusCode, "latency_ms", a.LatencyMS,
	}
	if job.BatchID != "" {
		attrs = append(attrs, "batch_id", job.BatchID, "batch_size", len(job.Batch))
	}
	switch {
	case a.Disable != "":
		n.log.Warn("webhook endpoint disabled", append(attrs, "reason", a.Disable, "err", a.Error)...)
	case a.Outcome == references.OutcomeDelivered:
		n.log.Debug("webhook delivered", attrs...)
	case job.Endpoint == nil && !ref.Active() && (ref.UnsubscribeReason == references.ReasonCallbackGone || ref.UnsubscribeReason == references.ReasonCallbackFailing):
		n.log.Warn("webhook failed; reference unsubscribed", append(attrs, "reason", ref.UnsubscribeReason, "err", a.Error)...)
	default:
		n.log.Info("webhook not delivered", append(attrs, "err", a.Error)...)
	}
}
