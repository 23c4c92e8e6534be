package references

import "time"

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
}

// DeliveryJob is the next webhook to send for a reference: the update, the secrets to
// sign it with, and how many times it was tried before.
type DeliveryJob struct {
	// Destination is where the job goes: DestinationCallback, the reference's own
	// callback_url (account endpoints will be others).
	Destination    string
	Reference      Reference
	Update         Update
	Attempt        int       // the number of this attempt, 1 for the first
	FirstAttemptAt time.Time // zero on the first attempt
	Secrets        []string  // live signing secrets, newest first
	Redelivery     bool      // asked for with POST .../redeliver: outside the ordered stream
}
