// Package notifier delivers each reference's updates to its destinations as signed
// Standard Webhooks POSTs: to the reference's own callback URL and to the account's
// endpoints that match them, in order per (destination, reference), at least once.
// It claims due delivery streams from the store (with leases, through
// internal/workloop), sends through a circuit breaker and a cap per resolved
// destination host, gives accounts fair shares of the delivery slots (slots.go),
// decides retries, give-ups and disabling by each destination's policy (policy.go,
// retry.go, control.go), and records every attempt durably before the stream moves
// on. The SSRF guard (ssrf.go) checks destinations before and at dial time.
package notifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/workloop"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// Store is what the notifier needs of persistence: delivery streams handed out with
// leases, and the durable record of each attempt.
type Store interface {
	ClaimDueDeliveries(ctx context.Context, owner string, limit int, lease time.Duration) ([]references.DeliveryClaim, error)
	ClaimDelivery(ctx context.Context, owner, refID string, lease time.Duration) (references.DeliveryClaim, error)
	NextDelivery(ctx context.Context, lease references.Lease) (references.DeliveryJob, error)
	RecordAttempt(ctx context.Context, lease references.Lease, job references.DeliveryJob, a references.DeliveryAttempt, unsubscribe references.UnsubscribeReason) (references.Reference, error)
	PostponeDelivery(ctx context.Context, lease references.Lease, until time.Time) error
	RenewLease(ctx context.Context, lease references.Lease, d time.Duration) (references.Lease, error)
	ReleaseLease(ctx context.Context, lease references.Lease) error
}

// Options configures a Notifier. Zero values take the defaults in parentheses.
type Options struct {
	// Workers is how many deliveries run at once (32): POSTs under way. Recording an
	// attempt durably does not hold one of them (see streamsPerWorker). Accounts
	// share them fairly when they are all taken: an account below its share
	// (Workers / accounts delivering) gets the next free one, and one that holds its
	// share waits HostWait at most, then is postponed by BreakerWait; an account
	// alone may use them all.
	Workers int
	// ScanEvery is how often the outbox is scanned when nothing wakes the notifier (250ms).
	ScanEvery time.Duration
	// Retry is the backoff schedule of failed attempts (DefaultRetryPolicy, with
	// RetryWindow when that is set).
	Retry RetryPolicy
	// RetryWindow is how long an update is retried before it is given up (72h); an
	// endpoint's own retry_window or max_attempts takes its place for that endpoint.
	RetryWindow time.Duration
	// UnsubscribeFailingAfter unsubscribes a reference whose callback has failed
	// without a success for this long (5 days).
	UnsubscribeFailingAfter time.Duration
	// Breakers are the per-destination circuit breakers (NewBreakers with defaults
	// and Clock).
	Breakers *Breakers
	// BreakerWait is how long a delivery to a host whose breaker is open, or that has
	// MaxInFlightPerHost attempts under way, or that found no delivery slot in time
	// (see Workers), waits before it is looked at again, uncounted (5s).
	BreakerWait time.Duration
	// MaxInFlightPerHost bounds the attempts under way to one destination (3/4 of
	// Workers): the address and port a callback's host resolves to, however the URLs
	// spell it, so a receiver that hangs holds that many workers at most, not all of
	// them: its breaker counts attempts only when they end. A delivery waits up to
	// HostWait (250ms) for a place, then is postponed by BreakerWait, uncounted; so
	// does one whose account holds its share of Workers and finds none free.
	MaxInFlightPerHost int
	HostWait           time.Duration
	// BurstPerReference is how many updates of one reference a worker sends in a row
	// before it lets others have a turn (50).
	BurstPerReference int
	// Owner names this notifier in its leases ("notifier"); instances sharing a
	// store need different names.
	Owner string
	// Lease is how long a claimed stream stays this notifier's without renewal (30s,
	// and at least twice the sender's timeout); it is renewed every third of it.
	Lease  time.Duration
	Clock  clock.Clock
	Rand   func() float64
	Logger *slog.Logger
	// Observe, when set, is called after every attempt (for metrics).
	Observe func(references.DeliveryJob, references.DeliveryAttempt)
}

// Notifier runs the delivery workers. Start it once; Stop drains in-flight attempts.
type Notifier struct {
	store  Store
	sender *Sender
	opts   Options
	log    *slog.Logger
	slots  *slots
	loop   *workloop.Loop[references.DeliveryClaim]
	// payloads are the bodies of recent updates sent to endpoints (see payloads).
	payloads *payloads
}

// streamsPerWorker is how many streams are worked on per delivery slot. A stream
// waits for the durable record of each attempt before its next one (the order per
// reference, and nothing marked delivered before it is on disk), and that wait, a
// group commit, is as long as a POST to a nearby receiver: with one stream per slot,
// the slots would stand idle half the time.
const streamsPerWorker = 4

// New returns a Notifier that sends through sender. It does nothing until Start.
func New(store Store, sender *Sender, opts Options) *Notifier {
	if opts.Workers <= 0 {
		opts.Workers = 32
	}
	if opts.ScanEvery <= 0 {
		opts.ScanEvery = 250 * time.Millisecond
	}
	if opts.Retry == (RetryPolicy{}) {
		opts.Retry = DefaultRetryPolicy()
	}
	if opts.RetryWindow > 0 {
		opts.Retry.Window = opts.RetryWindow
	}
	if opts.UnsubscribeFailingAfter <= 0 {
		opts.UnsubscribeFailingAfter = 5 * 24 * time.Hour
	}
	opts.Clock = clock.OrReal(opts.Clock)
	if opts.Breakers == nil {
		opts.Breakers = NewBreakers(BreakerSettings{Clock: opts.Clock})
	}
	if opts.BreakerWait <= 0 {
		opts.BreakerWait = 5 * time.Second
	}
	if opts.MaxInFlightPerHost <= 0 {
		opts.MaxInFlightPerHost = max(opts.Workers*3/4, 1)
	}
	if opts.HostWait <= 0 {
		opts.HostWait = 250 * time.Millisecond
	}
	if opts.BurstPerReference <= 0 {
		opts.BurstPerReference = 50
	}
	if opts.Owner == "" {
		opts.Owner = "notifier"
	}
	if opts.Lease <= 0 {
		opts.Lease = 30 * time.Second
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{
		store: store, sender: sender, opts: opts, log: opts.Logger,
		slots:    newSlots(opts.Workers, opts.MaxInFlightPerHost, opts.HostWait, opts.Clock),
		payloads: newPayloads(),
	}
	n.loop = workloop.New(workloop.Config[references.DeliveryClaim]{
		Name: "notifier",
		Claim: func(ctx context.Context, limit int) ([]references.DeliveryClaim, error) {
			return store.ClaimDueDeliveries(ctx, opts.Owner, limit, opts.Lease)
		},
		Work:    n.work,
		Release: n.release,
		Renew: func(ctx context.Context, c references.DeliveryClaim) error {
			_, err := store.RenewLease(ctx, c.Lease, opts.Lease)
			return err
		},
		RenewEvery: opts.Lease / 3,
		Workers:    opts.Workers * streamsPerWorker,
		Queue:      opts.Workers * 2,
		Schedule:   workloop.Every(opts.ScanEvery),
		Clock:      opts.Clock,
		Logger:     opts.Logger,
	})
	return n
}

// Wake asks for an outbox scan now, e.g. right after the poller appended an update.
// It never blocks.
func (n *Notifier) Wake() { n.loop.Wake() }

// Start launches the scan and the workers; they run until Stop.
func (n *Notifier) Start(ctx context.Context) { n.loop.Start(ctx) }

// Stop stops scanning, lets the queued and running deliveries finish until ctx is done
// (then cancels them: an attempt cut short is not recorded and is sent again after the
// next start, with the same webhook-id) and waits for the workers.
func (n *Notifier) Stop(ctx context.Context) {
	n.loop.Stop(ctx)
	n.sender.CloseIdleConnections()
}

// Scan claims the streams with an update due, and the requested redeliveries, and
// queues them. It does not wait for the deliveries; it returns how many it queued.
func (n *Notifier) Scan(ctx context.Context) (int, error) { return n.loop.Scan(ctx) }

func (n *Notifier) work(ctx context.Context, c references.DeliveryClaim) {
	if err := n.deliver(ctx, c); err != nil && ctx.Err() == nil {
		n.log.Error("delivery failed", "destination", destinationName(&c.Job), "reference_id", c.Job.Reference.ID, "err", err)
	}
	n.release(context.WithoutCancel(ctx), c)
}

func (n *Notifier) release(ctx context.Context, c references.DeliveryClaim) {
	if err := n.store.ReleaseLease(ctx, c.Lease); err != nil {
		n.log.Warn("releasing a claimed delivery", "destination", destinationName(&c.Job), "reference_id", c.Job.Reference.ID, "err", err)
	}
}

// deliver sends a claimed stream's due updates in order, up to BurstPerReference, and
// stops at the first one that is not delivered: it waits for its retry, and nothing
// after it is sent before. A redelivery is one attempt.
func (n *Notifier) deliver(ctx context.Context, c references.DeliveryClaim) error {
	job := c.Job
	for range n.opts.BurstPerReference {
		outcome, err := n.attempt(ctx, c.Lease, job)
		if err != nil || outcome != references.OutcomeDelivered || job.Redelivery {
			return err
		}
		job, err = n.store.NextDelivery(ctx, c.Lease)
		if errors.Is(err, references.ErrNothingToDeliver) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// DeliverNext claims the reference's callback stream now, due or not, sends its next
// update once, synchronously, records the attempt and gives the claim back. It
// returns the attempt's outcome, or "" when no attempt was made because the
// destination's breaker is open or no delivery slot was free in time (the delivery
// was postponed, uncounted).
func (n *Notifier) DeliverNext(ctx context.Context, refID string) (references.AttemptOutcome, error) {
	c, err := n.store.ClaimDelivery(ctx, n.opts.Owner, refID, n.opts.Lease)
	if err != nil {
		return "", err
	}
	defer n.release(context.WithoutCancel(ctx), c)
	return n.attempt(ctx, c.Lease, c.Job)
}

// attempt makes one POST for job through its destination's breaker and records it.
// The destination URL's host is resolved first: the breaker and the host's places
// are the address's, and the POST goes to it. An open breaker, MaxInFlightPerHost
// attempts to the destination under way, or no delivery slot for the account in time
// postpones the delivery without an attempt; a shutdown during the POST records
// nothing.
func (n *Notifier) attempt(ctx context.Context, lease references.Lease, job references.DeliveryJob) (references.AttemptOutcome, error) {
	body, err := n.encode(&job)
	if err != nil {
		return "", err
	}
	to, err := n.sender.resolve(ctx, job.URL())
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err() // shutting down: unrecorded, as for a POST cut short
		}
		return n.record(ctx, lease, job, n.sender.unsent(err))
	}
	req := Request{URL: job.URL(), UpdateID: job.WebhookID(), Body: body, Secrets: job.Secrets, to: to}
	if job.Endpoint != nil {
		req.Headers = job.Endpoint.Headers
	}
	res, err := n.send(ctx, job.AccountID(), req)
	if err == nil {
		return n.record(ctx, lease, job, res)
	}
	if errors.Is(err, ErrHostUnavailable) || errors.Is(err, errSlotsBusy) {
		if job.Redelivery {
			return "", nil // stays queued; a later scan tries again
		}
		return "", n.store.PostponeDelivery(ctx, lease, n.opts.Clock.Now().Add(n.opts.BreakerWait))
	}
	return "", err
}

// encode returns the body of the job's POST (encodeJob); the body of an update sent
// to an endpoint is encoded once for all endpoints (see payloads).
func (n *Notifier) encode(job *references.DeliveryJob) ([]byte, error) {
	shared := job.Endpoint != nil && job.Event == nil && job.Batch == nil
	if !shared {
		return encodeJob(job)
	}
	if body := n.payloads.get(job.Update.ID); body != nil {
		return body, nil
	}
	body, err := encodeJob(job)
	if err == nil {
		n.payloads.put(job.Update.ID, body)
	}
	return body, err
}

// encodeJob returns the body of the job's POST: an operational event, a batch of
// updates (an endpoint of format batch), or one update.
func encodeJob(job *references.DeliveryJob) ([]byte, error) {
	var body []byte
	var err error
	switch {
	case job.Event != nil:
		body, err = webhook.EncodeEvent(*job.Event)
	case job.Batch != nil:
		body, err = webhook.EncodeBatch(job.Batch)
	default:
		body, err = webhook.Encode(job.Update)
	}
	if err != nil {
		return nil, fmt.Errorf("encode %s for %s: %w", job.WebhookID(), destinationName(job), err)
	}
	return body, nil
}

// send makes one POST through the destination's breaker, holding one of its places
// and one of the account's delivery slots (see slots). With none free in time it
// sends nothing and returns ErrHostUnavailable or errSlotsBusy, as for an open
// breaker.
func (n *Notifier) send(ctx context.Context, account string, req Request) (Result, error) {
	release, err := n.slots.acquire(ctx, account, req.to.key())
	if err != nil {
		return Result{}, err
	}
	defer release()
	res, err := n.opts.Breakers.Do(req.to.key(), func() Result {
		return n.sender.Send(ctx, req)
	})
	if err == nil && ctx.Err() != nil {
		return res, ctx.Err() // shutting down: unrecorded, so it is sent again after restart
	}
	return res, err
}

// record decides what the attempt came to and writes it to the delivery log.
func (n *Notifier) record(ctx context.Context, lease references.Lease, job references.DeliveryJob, res Result) (references.AttemptOutcome, error) {
	a, unsubscribe := n.decide(job, res)
	// The attempt happened: record it even if shutdown starts now.
	ref, err := n.store.RecordAttempt(context.WithoutCancel(ctx), lease, job, a, unsubscribe)
	if err != nil {
		return "", err
	}
	n.logAttempt(job, a, ref)
	if n.opts.Observe != nil {
		n.opts.Observe(job, a)
	}
	return a.Outcome, nil
}
