package references

import (
	"fmt"
	"time"
)

// PollResult is what one poll of a reference changed. The store writes all of it in
// one transaction, so the snapshot, the feed and the schedule never disagree.
type PollResult struct {
	PolledAt            time.Time
	NextPollAt          time.Time
	Error               string     // why the poll failed; empty on success
	ConsecutiveFailures int        // failures in a row, 0 after a success
	NotFoundSince       *time.Time // set while the source says it does not know the shipment
	// Shipment is the new snapshot; nil when the poll failed or nothing changed.
	Shipment *Shipment
	// Updates are appended to the feed in order; the store assigns their sequences.
	Updates []Update
	// Unsubscribe, when set, ends tracking after the updates are appended (the
	// poller adds the reference.unsubscribed update itself).
	Unsubscribe UnsubscribeReason
	// Push, when not nil, is the reference's push subscription from now on; one with
	// an empty ID removes it (Reference.Push becomes nil). Nil leaves it as it is.
	Push *PushSubscription
}

// DeliveryJob is the next webhook to send to one destination: the update (or batch
// of updates, or operational event), the secrets to sign it with, and how many times
// it was tried before.
type DeliveryJob struct {
	// Destination is where the job goes: DestinationCallback, the reference's own
	// callback_url, or an endpoint's id (Endpoint is then set).
	Destination string
	Endpoint    *Endpoint
	Reference   Reference // zero for an operational event
	// Update is the update sent; with a batch, the first of Batch.
	Update Update
	// Batch holds the updates of one POST to an endpoint of FormatBatch, in sequence
	// order, fixed at its first attempt; BatchID is its webhook-id. Nil otherwise.
	Batch   []Update
	BatchID string
	// Event is the operational event sent to an endpoint (Update is then zero).
	Event          *AccountEvent
	Attempt        int       // the number of this attempt, 1 for the first
	FirstAttemptAt time.Time // zero on the first attempt
	Secrets        []string  // live signing secrets, newest first
	Redelivery     bool      // asked for with POST .../redeliver or .../resend: outside the ordered stream
}

// URL is where the job is POSTed.
func (j *DeliveryJob) URL() string {
	if j.Endpoint != nil {
		return j.Endpoint.URL
	}
	return j.Reference.CallbackURL
}

// AccountID is the account the job is delivered for.
func (j *DeliveryJob) AccountID() string {
	if j.Endpoint != nil {
		return j.Endpoint.AccountID
	}
	return j.Reference.AccountID
}

// WebhookID is the webhook-id of the job's POST: the batch's, the event's or the
// update's id, the same on every try.
func (j *DeliveryJob) WebhookID() string {
	switch {
	case j.BatchID != "":
		return j.BatchID
	case j.Event != nil:
		return j.Event.ID
	}
	return j.Update.ID
}

// MessageID is the id of the job's (first) message in its destination's log.
func (j *DeliveryJob) MessageID() string {
	if j.Event != nil {
		return j.Event.ID
	}
	return j.Update.ID
}

// BatchID is the webhook-id of a batch: derived from its destination, reference and
// first..last sequence, so every try of the batch carries the same one.
func BatchID(destination, refID string, first, last uint64) string {
	return fmt.Sprintf("batch_%s_%s_%d-%d", destination, refID, first, last)
}
