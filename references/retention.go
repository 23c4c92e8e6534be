package references

import "time"

// PruneRequest says what one Backend.Prune deletes. Each cutoff selects one kind of
// record; a zero cutoff leaves that kind alone.
type PruneRequest struct {
	// Updates: feed entries created before it, except those still to be delivered
	// (not after an unsubscribe that stops delivery) or queued for redelivery.
	Updates time.Time
	// Attempts: entries of the delivery log made before it.
	Attempts time.Time
	// IdempotencyKeys: remembered Idempotency-Keys that expired before it (now, to
	// delete every expired one).
	IdempotencyKeys time.Time
	// Unsubscribed: references unsubscribed before it, each with everything of its
	// (snapshot, feed, delivery log, queued redeliveries, its place in every index and
	// count, its endpoint messages' places in their streams), once Forgettable says so.
	Unsubscribed time.Time
	// Messages: endpoint messages created before it, on enabled and disabled
	// endpoints alike. One still pending or sending is failed with an OutcomeExpired
	// entry in its log and leaves its stream (counted in ExpiredMessages); one
	// finished, whose last attempt was before it too, is deleted (counted in Messages).
	Messages time.Time
	// Sessions: console sessions that have ended at it (see Session.ExpiredAt), of
	// every account: those of an account that never signs in again are not cleared
	// by CreateSession.
	Sessions time.Time
	// Max bounds the records one call deletes, all kinds together (a reference with
	// its updates and attempts counts each of them), so that one transaction stays
	// small; 0 deletes nothing. A call that deleted Max may have left more to delete.
	Max int
}

// PruneCounts counts deleted (or expired) records by kind: what one Prune deleted, or, in Stats,
// everything retention deleted since the store was created.
type PruneCounts struct {
	Updates         int64
	Attempts        int64
	IdempotencyKeys int64
	// References counts unsubscribed references deleted whole; their updates and
	// attempts are counted in Updates and Attempts.
	References int64
	// Messages counts endpoint messages deleted; ExpiredMessages those failed as
	// expired (kept, with the entry saying so, until they are deleted in turn).
	Messages        int64
	ExpiredMessages int64
	Sessions        int64 // ended console sessions deleted
}

// Total is the number of records counted, all kinds together.
func (c PruneCounts) Total() int64 {
	return c.Updates + c.Attempts + c.IdempotencyKeys + c.References + c.Messages + c.ExpiredMessages + c.Sessions
}

// Add adds o to c, but for Sessions: the totals Stats keeps are of what the feed and
// the logs held, and a session is neither.
func (c *PruneCounts) Add(o PruneCounts) {
	c.Updates += o.Updates
	c.Attempts += o.Attempts
	c.IdempotencyKeys += o.IdempotencyKeys
	c.References += o.References
	c.Messages += o.Messages
	c.ExpiredMessages += o.ExpiredMessages
}

// Forgettable reports whether retention may delete an unsubscribed reference, with
// everything of its, at cutoff: it was unsubscribed before cutoff and none of its
// updates is still to be delivered (a backend also keeps it while a redelivery of it
// is queued). A reference whose unsubscribe lets the feed drain is kept until the feed
// is drained: delivered, or given up on at the end of the retry window.
func (r *Reference) Forgettable(cutoff time.Time) bool {
	if r.Subscribed() || r.UnsubscribedAt == nil || !r.UnsubscribedAt.Before(cutoff) {
		return false
	}
	return !r.OwesDelivery() || r.DeliveredSequence >= r.LastSequence
}
