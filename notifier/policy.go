package notifier

import "github.com/trackhook/trackhook/references"

// The delivery policy: what an attempt's result comes to (the store then applies
// references.AfterAttempt), and how it is logged.

// decide turns a Result into the logged attempt: delivered, gone, failed with the
// time of the next retry, or given up when the retry window is over; and says whether
// the reference is to be unsubscribed because its callback has failed for too long.
func (n *Notifier) decide(job references.DeliveryJob, res Result) (references.DeliveryAttempt, references.UnsubscribeReason) {
	a := references.DeliveryAttempt{
		ReferenceID: job.Reference.ID, UpdateID: job.Update.ID, Sequence: job.Update.Sequence,
		Attempt: job.Attempt, URL: job.Reference.CallbackURL, At: res.At,
		StatusCode: res.StatusCode, Error: res.ErrText(), LatencyMS: res.Latency.Milliseconds(),
		ResponseBody: res.Body, Outcome: res.Outcome, Redelivery: job.Redelivery,
	}
	if res.Outcome != references.OutcomeFailed || job.Redelivery {
		return a, ""
	}
	first := job.FirstAttemptAt
	if first.IsZero() {
		first = res.At
	}
	next, giveUp := n.opts.Retry.Next(job.Attempt, first, res.At, res.RetryAfter, n.opts.Rand)
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

func (n *Notifier) logAttempt(job references.DeliveryJob, a references.DeliveryAttempt, ref references.Reference) {
	attrs := []any{
		"reference_id", job.Reference.ID, "update_id", job.Update.ID, "sequence", job.Update.Sequence,
		"attempt", a.Attempt, "outcome", a.Outcome, "status", a.StatusCode, "latency_ms", a.LatencyMS,
	}
	switch {
	case a.Outcome == references.OutcomeDelivered:
		n.log.Debug("webhook delivered", attrs...)
	case !ref.Active() && (ref.UnsubscribeReason == references.ReasonCallbackGone || ref.UnsubscribeReason == references.ReasonCallbackFailing):
		n.log.Warn("webhook failed; reference unsubscribed", append(attrs, "reason", ref.UnsubscribeReason, "err", a.Error)...)
	default:
		n.log.Info("webhook not delivered", append(attrs, "err", a.Error)...)
	}
}
