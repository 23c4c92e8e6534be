package poller

import (
	"context"
	"errors"
	"time"

	"github.com/trackhook/trackhook/references"
)

// The subscriptions of DCSA T&T v2.2 sources with push: true live in the poll path,
// under the poll lease, and every change goes through PollResult.Push: no second
// writer, and a poll that loses its lease records none of them (undoPush then deletes
// what it made). A carrier that fails a subscription request never fails the poll:
// the failure is logged and the request made again at the next poll.

// pushTarget is how the source of a reference pushes.
type pushTarget struct {
	source string     // the source's name (its carrier code in the sources file)
	config PushConfig // Model is PushNone when the source does not push
	sub    Subscriber // set when config.Model is PushSubscription
}

// pushTarget returns how ref's source pushes now.
func (p *Poller) pushTarget(ref references.Reference) pushTarget {
	t := pushTarget{source: p.opts.Router.SourceName(ref.CarrierCode)}
	cfg, ok := p.opts.Push.Sources[t.source]
	if !ok {
		return t
	}
	t.config = cfg
	if cfg.Model == PushSubscription {
		t.sub = subscriberOf(p.opts.Router.For(ref.CarrierCode))
	}
	return t
}

// merges reports whether a poll of ref merges its fetch into the stored snapshot
// rather than replacing it: when pushes may have brought events the carrier's GET
// does not show yet.
func (t pushTarget) merges(ref references.Reference) bool {
	switch t.config.Model {
	case PushReceiver:
		return true
	case PushSubscription:
		return ref.Push != nil && ref.Push.ID != ""
	}
	return false
}

// pushing reports whether ref is pushed to once the poll's result (its Push, nil
// for no change) is recorded: its next poll is then only the safety net.
func (t pushTarget) pushing(ref references.Reference, changed *references.PushSubscription) bool {
	switch t.config.Model {
	case PushReceiver:
		return true
	case PushSubscription:
		sub := ref.Push
		if changed != nil {
			sub = changed
		}
		return sub != nil && sub.ID != "" && sub.Source == t.source
	}
	return false
}

// safetyNetPoll is the next poll of a pushed reference: after the source's push poll
// interval, or the reference's own when that is longer.
func (p *Poller) safetyNetPoll(ref references.Reference, cfg PushConfig, now time.Time) time.Time {
	every := cfg.PollInterval
	if every <= 0 {
		every = DefaultPushPollInterval
	}
	return now.Add(p.jitter(max(every, p.interval(ref))))
}

// checkEvery is how long a subscription goes unchecked: half the safety-net
// interval, so that each safety-net poll checks (whatever its jitter) and the polls
// a user asks for in between do not.
func checkEvery(cfg PushConfig) time.Duration {
	every := cfg.PollInterval
	if every <= 0 {
		every = DefaultPushPollInterval
	}
	return every / 2
}

// keepPush brings ref's subscription to what its source asks for, after a fetch that
// worked, and sets res.Push when it changed: made when missing, checked at each
// safety-net poll and made again when the carrier lost it, its secret rotated every
// RotateEvery, and ended at the carrier when the source no longer pushes with
// subscriptions (or another source serves the reference now).
func (p *Poller) keepPush(ctx context.Context, ref references.Reference, t pushTarget, res *references.PollResult, now time.Time) {
	cur := ref.Push
	if cur != nil && cur.ID == "" {
		cur = nil
	}
	if cur == nil && (t.config.Model != PushSubscription || t.sub == nil) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.PollTimeout)
	defer cancel()
	if cur != nil && (t.config.Model != PushSubscription || cur.Source != t.source) {
		if !p.dropPush(ctx, ref, cur) {
			return // tried again at the next poll
		}
		res.Push = &references.PushSubscription{}
		cur = nil
	}
	if t.config.Model != PushSubscription || t.sub == nil {
		return
	}
	if cur == nil {
		if made := p.subscribe(ctx, ref, t, nil, now); made != nil {
			res.Push = made
		}
		return
	}

	next := clonePush(cur)
	changed := pruneSecrets(next, now)
	defer func() {
		if changed {
			res.Push = next
		}
	}()
	log := p.log.With("reference_id", ref.ID, "source", t.source, "subscription_id", cur.ID)
	if now.Sub(next.CheckedAt) >= checkEvery(t.config) {
		err := t.sub.CheckSubscription(ctx, next.ID)
		switch {
		case err == nil:
			next.CheckedAt, changed = now, true
		case errors.Is(err, ErrSubscriptionNotFound):
			log.Info("the carrier lost the push subscription: making it again")
			if made := p.subscribe(ctx, ref, t, next, now); made != nil {
				next, changed = made, true
			}
			return
		default:
			log.Warn("checking the push subscription failed: tried again at the next poll", "err", err)
		}
	}
	if every := p.opts.Push.RotateEvery; every > 0 && now.Sub(next.RotatedAt) >= every {
		secret := t.sub.NewSecret()
		err := t.sub.UpdateSecret(ctx, next.ID, secret)
		switch {
		case err == nil:
			rotate(next, secret, now, now.Add(p.opts.Push.Grace))
			changed = true
		case errors.Is(err, ErrSubscriptionNotFound):
			log.Info("the carrier lost the push subscription at its secret rotation: making it again")
			if made := p.subscribe(ctx, ref, t, next, now); made != nil {
				next, changed = made, true
			}
		default:
			log.Warn("rotating the push subscription's secret failed: tried again at the next poll", "err", err)
		}
	}
}

// subscribe makes a subscription for ref at t's carrier, with a new secret; prev is
// the one it replaces (lost at the carrier), whose LastPushAt it keeps. It returns
// nil when the carrier failed, which it logs.
func (p *Poller) subscribe(ctx context.Context, ref references.Reference, t pushTarget, prev *references.PushSubscription, now time.Time) *references.PushSubscription {
	secret := t.sub.NewSecret()
	id, err := t.sub.CreateSubscription(ctx, ref, PushCallbackURL(p.opts.Push.PublicURL, t.source, ref.ID), secret)
	if err != nil {
		p.log.Warn("making the push subscription failed: tried again at the next poll",
			"reference_id", ref.ID, "source", t.source, "err", err)
		return nil
	}
	sub := &references.PushSubscription{
		Source: t.source, ID: id, Secrets: []references.PushSecret{{Key: secret}},
		CreatedAt: now, RotatedAt: now, CheckedAt: now,
	}
	if prev != nil {
		sub.LastPushAt = prev.LastPushAt
	}
	return sub
}

// rotate makes secret the newest of sub's secrets at now; the one it replaces
// verifies until graceEnd, and those that stopped verifying are dropped.
func rotate(sub *references.PushSubscription, secret []byte, now, graceEnd time.Time) {
	secrets := []references.PushSecret{{Key: secret}}
	for _, s := range sub.Secrets {
		if s.Until == nil || s.Until.After(graceEnd) {
			s.Until = &graceEnd
		}
		if now.Before(*s.Until) {
			secrets = append(secrets, s)
		}
	}
	sub.Secrets, sub.RotatedAt = secrets, now
}

// pruneSecrets drops the secrets of sub that no longer verify at now, and reports
// whether there were any.
func pruneSecrets(sub *references.PushSubscription, now time.Time) bool {
	kept := sub.Secrets[:0:0]
	for _, s := range sub.Secrets {
		if s.Until == nil || now.Before(*s.Until) {
			kept = append(kept, s)
		}
	}
	pruned := len(kept) != len(sub.Secrets)
	sub.Secrets = kept
	return pruned
}

// endPush deletes the subscription of a reference whose poll ends tracking and, when
// the carrier confirms, records it gone; otherwise the store queues its deletion as
// it unsubscribes the reference, for the deletion loop.
func (p *Poller) endPush(ctx context.Context, ref references.Reference, res *references.PollResult) {
	if ref.Push == nil || ref.Push.ID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.PollTimeout)
	defer cancel()
	if p.dropPush(ctx, ref, ref.Push) {
		res.Push = &references.PushSubscription{}
	}
}

// dropPush deletes sub at its carrier, and reports whether it is gone there.
func (p *Poller) dropPush(ctx context.Context, ref references.Reference, sub *references.PushSubscription) bool {
	if err := p.deleteAt(ctx, sub.Source, sub.ID); err != nil {
		p.log.Warn("deleting the push subscription failed", "reference_id", ref.ID, "source", sub.Source,
			"subscription_id", sub.ID, "err", err)
		return false
	}
	return true
}

// undoPush deletes, best effort, the subscription a poll made (changed) whose result
// could not be recorded: nothing would name it otherwise. A failure is logged.
func (p *Poller) undoPush(ctx context.Context, ref references.Reference, changed *references.PushSubscription) {
	if changed == nil || changed.ID == "" || ref.Push != nil && ref.Push.Source == changed.Source && ref.Push.ID == changed.ID {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.PollTimeout)
	defer cancel()
	if err := p.deleteAt(ctx, changed.Source, changed.ID); err != nil {
		p.log.Warn("deleting a push subscription made by a poll that was not recorded failed: the carrier keeps it",
			"reference_id", ref.ID, "source", changed.Source, "subscription_id", changed.ID, "err", err)
	}
}
