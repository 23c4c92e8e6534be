package poller

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/tracking"
)

// Carrier push: a carrier that pushes events (see PushModel) reaches the inbound
// routes, which hand each verified push to ApplyPush. The poller keeps the rest: the
// subscriptions of DCSA T&T v2.2 sources, made, checked, repaired, rotated and
// deleted in the poll path under the poll lease (subscriptions.go); the safety-net
// poll of pushed references, which merges instead of replacing; and the loop that
// deletes the subscriptions of ended references (pushdeletions.go).

// Defaults of PushOptions, which cmd/trackhook's flags take too.
const (
	// DefaultPushRotateEvery is how often a subscription's secret is replaced.
	DefaultPushRotateEvery = 30 * 24 * time.Hour
	// DefaultPushSecretGrace is how long the previous secret still verifies after a
	// rotation: the carrier may have signed pushes under way with it.
	DefaultPushSecretGrace = time.Hour
	// DefaultPushBusyWait bounds the wait of ApplyPush for a poll in flight: under the
	// time a carrier gives a callback to answer.
	DefaultPushBusyWait = 15 * time.Second
	// DefaultPushDeleteEvery is how often the queue of subscriptions to delete is
	// scanned when nothing wakes it.
	DefaultPushDeleteEvery = 30 * time.Second
)

// PushOptions configures carrier push (Options.Push). Zero values take the defaults
// in parentheses.
type PushOptions struct {
	// PublicURL is the address carriers reach trackhook at (--public-url): a
	// subscription's callback is {PublicURL}/inbound/dcsa/{source}/{ref_id} (see
	// PushCallbackURL). Required when a source of Sources has PushSubscription.
	PublicURL *url.URL
	// RotateEvery is how often a subscription's secret is replaced at its carrier; 0
	// never replaces it.
	RotateEvery time.Duration
	// Grace is how long the previous secret still verifies after a rotation
	// (DefaultPushSecretGrace).
	Grace time.Duration
	// Sources holds the push settings by source name, as Sources.Push has them (the
	// carrier codes of the sources file). A source not in it is only polled.
	Sources map[string]PushConfig
	// BusyWait bounds how long ApplyPush waits for a poll in flight to record first
	// (DefaultPushBusyWait).
	BusyWait time.Duration
	// DeleteEvery is how often the queue of subscriptions to delete is scanned
	// (DefaultPushDeleteEvery); ending a reference in a poll wakes it too.
	DeleteEvery time.Duration
	// DeleteBackoffBase and DeleteBackoffMax bound the exponential backoff between
	// failed deletions of one subscription (1m, 6h).
	DeleteBackoffBase, DeleteBackoffMax time.Duration
}

func (o *PushOptions) defaults() {
	if o.Grace <= 0 {
		o.Grace = DefaultPushSecretGrace
	}
	if o.BusyWait <= 0 {
		o.BusyWait = DefaultPushBusyWait
	}
	if o.DeleteEvery <= 0 {
		o.DeleteEvery = DefaultPushDeleteEvery
	}
	if o.DeleteBackoffBase <= 0 {
		o.DeleteBackoffBase = time.Minute
	}
	if o.DeleteBackoffMax <= 0 {
		o.DeleteBackoffMax = 6 * time.Hour
	}
}

// check refuses settings the poller cannot work with: subscriptions without a public
// URL to give the carrier, or at a source that cannot make them.
func (o *PushOptions) check(r Router) error {
	for code, cfg := range o.Sources {
		if cfg.Model != PushSubscription {
			continue
		}
		if o.PublicURL == nil || !o.PublicURL.IsAbs() || (o.PublicURL.Scheme != "http" && o.PublicURL.Scheme != "https") || o.PublicURL.Host == "" {
			return fmt.Errorf("push: carrier %s has push subscriptions: the public URL the carrier calls back must be an absolute http(s) URL (--public-url)", code)
		}
		if subscriberOf(r.ByCarrier[code]) == nil {
			return fmt.Errorf("push: carrier %s has push subscriptions but its source cannot make them", code)
		}
	}
	return nil
}

// subscribes reports whether a source makes push subscriptions.
func (o *PushOptions) subscribes() bool {
	for _, cfg := range o.Sources {
		if cfg.Model == PushSubscription {
			return true
		}
	}
	return false
}

// PushCallbackURL is the callback URL of a subscription: where the carrier of source
// pushes the events of reference refID.
func PushCallbackURL(public *url.URL, source, refID string) string {
	return public.JoinPath("inbound", "dcsa", source, refID).String()
}

// Subscriber is what the poller needs of a source whose carrier keeps push
// subscriptions (DCSA T&T v2.2: poller/dcsa's Client.Subscriber). Its errors are the
// carrier's answers; an operation on a subscription the carrier does not have wraps
// ErrSubscriptionNotFound.
type Subscriber interface {
	// NewSecret returns a new random secret of the size the API takes.
	NewSecret() []byte
	// CreateSubscription asks the carrier to push the events of ref to callbackURL,
	// signed with secret, and returns the subscription's id.
	CreateSubscription(ctx context.Context, ref references.Reference, callbackURL string, secret []byte) (string, error)
	// CheckSubscription asks the carrier whether subscription id still exists.
	CheckSubscription(ctx context.Context, id string) error
	// UpdateSecret gives subscription id a new secret.
	UpdateSecret(ctx context.Context, id string, secret []byte) error
	// DeleteSubscription ends subscription id; one the carrier does not have is ended
	// already, which is no error.
	DeleteSubscription(ctx context.Context, id string) error
}

// SubscriberSource is a Source that can make push subscriptions at its carrier.
type SubscriberSource interface {
	Subscriber() Subscriber
}

// ErrSubscriptionNotFound is wrapped by a Subscriber's errors when the carrier does
// not have the subscription (any more): the poller makes it again.
var ErrSubscriptionNotFound = errors.New("push subscription not found at the carrier")

// subscriberOf returns the Subscriber of src, looking through its guard; nil when src
// makes no subscriptions.
func subscriberOf(src Source) Subscriber {
	for src != nil {
		switch s := src.(type) {
		case SubscriberSource:
			return s.Subscriber()
		case interface{ Unwrap() Source }:
			src = s.Unwrap()
		default:
			return nil
		}
	}
	return nil
}

// PushMerge returns the snapshot after a push, given the stored one (nil before
// any). It may keep what it is given: that is the poller's own copy.
type PushMerge func(stored *references.Shipment) (*references.Shipment, error)

// ErrNotTracked is returned by ApplyPush for a reference that is not active
// (paused, unsubscribed, gone): the push is to be acknowledged and ignored.
var ErrNotTracked = errors.New("the reference is not tracked")

// pushBackoff bounds the waits between the claims of ApplyPush while a poll holds
// the reference.
const (
	pushBackoffFirst = 25 * time.Millisecond
	pushBackoffMax   = time.Second
)

// ApplyPush merges a push into the reference's snapshot under its poll lease
// (waiting, up to PushOptions.BusyWait, for a poll in flight to record first) and
// records the result through the same derive/diff/feed/delivery path as a poll; it
// sets Push.LastPushAt when the reference has a subscription. It returns the number
// of updates appended: 0 for a push that brought nothing new (a carrier's retry).
//
// The reference's next poll stays when it was (a push does not put off the safety
// net) and so do its polling errors; its LastPolledAt becomes the time of the push,
// when its snapshot was last brought up to date. A push that completes the shipment
// ends tracking, and its subscription is deleted through the store's queue.
//
// Errors: ErrNotTracked (wrapped) for a reference that is not active or does not
// exist; references.ErrBusy (wrapped) when a poll still held the reference at the end
// of the wait, for the caller to answer so that the carrier retries (503); merge's
// own error as it returned it; anything else is the store's. On every error nothing
// is recorded. The caller wakes the notifier when updates were appended, as
// Options.Observe does for polls.
func (p *Poller) ApplyPush(ctx context.Context, refID string, merge PushMerge) (int, error) {
	c, err := p.claimForPush(ctx, refID)
	if err != nil {
		return 0, err
	}
	n, ended, err := p.applyPush(ctx, c, merge)
	if err != nil {
		if rerr := p.store.ReleaseLease(context.WithoutCancel(ctx), c.Lease); rerr != nil {
			p.log.Warn("releasing the lease of a push", "reference_id", refID, "err", rerr)
		}
		return 0, err
	}
	if ended {
		p.deletions.Wake()
	}
	return n, nil
}

// claimForPush claims the poll lease of refID, retrying with a growing pause on the
// injected clock while another holder has it, until BusyWait has passed.
func (p *Poller) claimForPush(ctx context.Context, refID string) (references.PollClaim, error) {
	deadline := p.opts.Clock.Now().Add(p.opts.Push.BusyWait)
	wait := pushBackoffFirst
	for {
		c, err := p.store.ClaimPoll(ctx, p.opts.Owner, refID, p.opts.Lease)
		switch {
		case err == nil:
			return c, nil
		case errors.Is(err, references.ErrConflict), errors.Is(err, references.ErrNotFound):
			return references.PollClaim{}, fmt.Errorf("push for %s: %w: %w", refID, ErrNotTracked, err)
		case !errors.Is(err, references.ErrBusy):
			return references.PollClaim{}, fmt.Errorf("push for %s: %w", refID, err)
		}
		left := deadline.Sub(p.opts.Clock.Now())
		if left <= 0 {
			return references.PollClaim{}, fmt.Errorf("push for %s: a poll held the reference for over %v: %w", refID, p.opts.Push.BusyWait, err)
		}
		t := p.opts.Clock.NewTimer(min(wait, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return references.PollClaim{}, fmt.Errorf("push for %s: %w", refID, ctx.Err())
		case <-t.C():
		}
		wait = min(2*wait, pushBackoffMax)
	}
}

// applyPush merges and records a push under claim c. It reports the updates
// appended and whether the push ended tracking; on an error nothing is recorded and
// the caller gives the claim back.
func (p *Poller) applyPush(ctx context.Context, c references.PollClaim, merge PushMerge) (int, bool, error) {
	ref := c.Reference
	now := p.opts.Clock.Now()
	old, err := p.store.Shipment(ctx, ref.ID)
	if err != nil {
		return 0, false, fmt.Errorf("push for %s: %w", ref.ID, err)
	}
	var given *references.Shipment
	if old != nil {
		given = tracking.Derive(old) // a deep copy: old is diffed against after merge
	}
	merged, err := merge(given)
	if err != nil {
		return 0, false, err
	}
	if merged == nil {
		return 0, false, fmt.Errorf("push for %s: the merge gave no snapshot", ref.ID)
	}
	res := references.PollResult{
		PolledAt:            now,
		NextPollAt:          now,
		Error:               ref.LastPollError,
		ConsecutiveFailures: ref.ConsecutiveFailures,
		NotFoundSince:       ref.NotFoundSince,
	}
	if ref.NextPollAt != nil {
		res.NextPollAt = *ref.NextPollAt
	}
	if len(merged.Events) > 0 {
		// The carrier pushes events of the shipment: it knows it, whatever its GET
		// said, so the not-found count that would end tracking starts again.
		res.NotFoundSince = nil
	}
	p.settle(old, merged, &res, now)
	if ref.Push != nil && ref.Push.ID != "" {
		sub := clonePush(ref.Push)
		sub.LastPushAt = &now
		res.Push = sub
	}
	if res.Quiet() && res.Push == nil && res.SameErrorState(&ref) {
		// Nothing to record (a retried push of a source without subscriptions).
		if err := p.store.ReleaseLease(ctx, c.Lease); err != nil {
			p.log.Warn("releasing the lease of a push", "reference_id", ref.ID, "err", err)
		}
		return 0, false, nil
	}
	if _, err := p.store.RecordPoll(ctx, c.Lease, res); err != nil {
		return 0, false, fmt.Errorf("push for %s: %w", ref.ID, err)
	}
	return len(res.Updates), res.EndsTracking(), nil
}

// clonePush returns a copy of s that shares nothing with it that may change.
func clonePush(s *references.PushSubscription) *references.PushSubscription {
	c := *s
	c.Secrets = append([]references.PushSecret(nil), s.Secrets...)
	return &c
}
