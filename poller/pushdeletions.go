package poller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trackhook/trackhook/internal/workloop"
	"github.com/trackhook/trackhook/references"
)

// The subscriptions of ended references are deleted at their carriers from the
// store's queue, which the transaction ending a reference fills (whatever ended it:
// a poll, the user, retention), so that none outlives its reference at the carrier
// even when trackhook stops right after. A poll that ends tracking deletes its
// subscription itself when the carrier answers, and the queue gets nothing.

// deletes reports whether a source of the router can delete subscriptions: without
// one, the deletion loop could only fail every deletion, and is not started.
func (p *Poller) deletes() bool {
	if subscriberOf(p.opts.Router.Default) != nil {
		return true
	}
	for _, src := range p.opts.Router.ByCarrier {
		if subscriberOf(src) != nil {
			return true
		}
	}
	return false
}

// startDeletions starts the deletion loop when a source can delete subscriptions;
// otherwise it warns of the deletions that wait in the queue for one.
func (p *Poller) startDeletions(ctx context.Context) {
	if p.deletes() {
		p.deletions.Start(ctx)
		p.deleting = true
		return
	}
	waiting, err := p.store.ListPushDeletions(ctx, 1)
	if err == nil && len(waiting) > 0 {
		p.log.Warn("subscriptions of ended references wait to be deleted at their carriers, but no configured source makes push subscriptions",
			"first_source", waiting[0].Source, "first_subscription_id", waiting[0].SubscriptionID)
	}
}

// deletionWorkers is how many deletions run at once: the queue is short, and each
// deletion is one request to a carrier.
const deletionWorkers = 2

func (p *Poller) newDeletionLoop() *workloop.Loop[references.PushDeletionClaim] {
	o := p.opts
	return workloop.New(workloop.Config[references.PushDeletionClaim]{
		Name: "push deletions",
		Claim: func(ctx context.Context, limit int) ([]references.PushDeletionClaim, error) {
			return p.store.ClaimPushDeletions(ctx, o.Owner, limit, o.Lease)
		},
		Work: func(ctx context.Context, c references.PushDeletionClaim) { p.deleteQueued(ctx, c) },
		Release: func(ctx context.Context, c references.PushDeletionClaim) {
			if err := p.store.ReleaseLease(ctx, c.Lease); err != nil {
				p.log.Warn("releasing a claimed push deletion", "subscription_id", c.Deletion.SubscriptionID, "err", err)
			}
		},
		Renew: func(ctx context.Context, c references.PushDeletionClaim) error {
			_, err := p.store.RenewLease(ctx, c.Lease, o.Lease)
			return err
		},
		RenewEvery: o.Lease / 3,
		Workers:    deletionWorkers,
		Schedule:   workloop.Every(o.Push.DeleteEvery),
		Clock:      o.Clock,
		Logger:     o.Logger,
	})
}

// WorkPushDeletions claims the queued subscription deletions that are due and works
// them before it returns, as the loop Start runs does on its own: for tests and
// tools. It returns how many it worked, deleted or put off.
func (p *Poller) WorkPushDeletions(ctx context.Context) (int, error) {
	claims, err := p.store.ClaimPushDeletions(ctx, p.opts.Owner, 100, p.opts.Lease+p.opts.PollTimeout)
	if err != nil {
		return 0, fmt.Errorf("push deletions: %w", err)
	}
	for _, c := range claims {
		p.deleteQueued(ctx, c)
	}
	return len(claims), nil
}

// deleteQueued deletes one queued subscription at its carrier and removes it from
// the queue, or records the failure and puts it off with a backoff. When ctx ends
// first, the claim is given back and the deletion stays due.
func (p *Poller) deleteQueued(ctx context.Context, c references.PushDeletionClaim) {
	d := c.Deletion
	log := p.log.With("source", d.Source, "subscription_id", d.SubscriptionID, "reference_id", d.ReferenceID)
	err := p.deleteAt(ctx, d.Source, d.SubscriptionID)
	record := context.WithoutCancel(ctx)
	if ctx.Err() != nil {
		if rerr := p.store.ReleaseLease(record, c.Lease); rerr != nil {
			log.Warn("releasing a claimed push deletion", "err", rerr)
		}
		return
	}
	if err == nil {
		if err := p.store.FinishPushDeletion(record, c.Lease); err != nil {
			log.Warn("the push subscription was deleted at the carrier but not from the queue: deleted again later", "err", err)
			return
		}
		log.Info("push subscription of an ended reference deleted at the carrier")
		return
	}
	wait := p.deletionBackoff(d.Attempts + 1)
	if rerr := p.store.RetryPushDeletion(record, c.Lease, p.opts.Clock.Now().Add(wait), err.Error()); rerr != nil {
		log.Warn("recording a failed push deletion", "err", rerr)
	}
	log.Warn("deleting the push subscription of an ended reference failed", "attempts", d.Attempts+1, "next_try_in", wait, "err", err)
}

// deletionBackoff is the wait after the failures-th failed deletion of one
// subscription: DeleteBackoffBase doubled per failure, at most DeleteBackoffMax.
func (p *Poller) deletionBackoff(failures int) time.Duration {
	o := p.opts.Push
	d := o.DeleteBackoffBase << min(failures-1, 30)
	if d <= 0 || d > o.DeleteBackoffMax {
		d = o.DeleteBackoffMax
	}
	return p.jitter(d)
}

// deleteAt deletes subscription id at the carrier of source. One the carrier does
// not have is deleted already. A source that is not configured, or cannot make
// subscriptions, is an error saying so: the deletion waits for it to be again.
func (p *Poller) deleteAt(ctx context.Context, source, id string) error {
	sub := p.subscriberAt(source)
	if sub == nil {
		return fmt.Errorf("source %s is not configured (any more), or its type makes no push subscriptions: its subscription %s cannot be deleted until it is", source, id)
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.PollTimeout)
	defer cancel()
	if err := sub.DeleteSubscription(ctx, id); err != nil && !errors.Is(err, ErrSubscriptionNotFound) {
		return err
	}
	return nil
}

// subscriberAt returns the Subscriber of the source called source, or nil.
func (p *Poller) subscriberAt(source string) Subscriber {
	if src, ok := p.opts.Router.ByCarrier[source]; ok {
		return subscriberOf(src)
	}
	if source == "default" {
		return subscriberOf(p.opts.Router.Default)
	}
	return nil
}
