package references

import (
	"bytes"
	"slices"
	"time"
)

// PushSubscription is a reference's subscription at its carrier's push API (DCSA
// Track & Trace v2.2 event subscriptions): the carrier POSTs each new event of the
// reference to trackhook's inbound route, signed with one of Secrets. It is kept on
// the reference (Reference.Push) and changed only by the poller, under the poll
// lease, through PollResult.Push.
type PushSubscription struct {
	// Source names the source whose API holds the subscription (its carrier code in
	// the sources file).
	Source string
	// ID is the carrier's subscriptionID.
	ID string
	// Secrets verify the carrier's signatures, newest first: after a rotation the
	// carrier may sign with the previous secret until its Until.
	Secrets   []PushSecret
	CreatedAt time.Time
	// RotatedAt is when Secrets[0] was given to the carrier.
	RotatedAt time.Time
	// CheckedAt is when the carrier last confirmed that the subscription exists.
	CheckedAt time.Time
	// LastPushAt is when the last verified push arrived; nil before the first.
	LastPushAt *time.Time
}

// clone returns a copy of p that shares no secret's bytes with it.
func (p *PushSubscription) clone() *PushSubscription {
	c := *p
	c.Secrets = slices.Clone(p.Secrets)
	for i := range c.Secrets {
		c.Secrets[i].Key = bytes.Clone(c.Secrets[i].Key)
	}
	return &c
}

// PushSecret is one secret of a push subscription: raw bytes, valid until Until (nil
// for the newest, which has no end until the next rotation).
type PushSecret struct {
	Key   []byte
	Until *time.Time
}

// LiveSecrets returns the keys that verify a push at now, newest first.
func (p *PushSubscription) LiveSecrets(now time.Time) [][]byte {
	var keys [][]byte
	for _, s := range p.Secrets {
		if s.Until == nil || now.Before(*s.Until) {
			keys = append(keys, s.Key)
		}
	}
	return keys
}

// PushDeletion is a subscription to delete at its carrier because its reference
// ended: the store queues one in the transaction that unsubscribes a reference
// holding a PushSubscription, so that no ended reference keeps a subscription alive
// at the carrier, even if trackhook stops right after.
type PushDeletion struct {
	Source         string
	SubscriptionID string
	ReferenceID    string
	AccountID      string
	QueuedAt       time.Time
	Attempts       int    // failed deletions so far
	LastError      string // the last failure, for logs
}

// PushDeletionClaim is a queued deletion handed to one owner.
type PushDeletionClaim struct {
	Lease    Lease
	Deletion PushDeletion
}
