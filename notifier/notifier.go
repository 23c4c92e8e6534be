// Package notifier delivers each reference's updates to its callback URL as signed
// Standard Webhooks POSTs: in order per reference, at least once, from a durable
// outbox in the store, with retries and backoff, a circuit breaker per destination
// host, an SSRF guard at dial time, and every attempt recorded in the delivery log.
package notifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/trackhook/trackhook/internal/inflight"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// Store is what the notifier needs of persistence: the outbox, the delivery log and
// the redelivery queue.
type Store interface {
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]string, error)
	NextDelivery(ctx context.Context, refID string, now time.Time) (references.DeliveryJob, error)
	RecordAttempt(ctx context.Context, job references.DeliveryJob, a references.DeliveryAttempt, unsubscribe references.UnsubscribeReason) (references.Reference, error)
	PostponeDelivery(ctx context.Context, refID string, until time.Time) error
	Redeliveries(ctx context.Context, now time.Time, limit int) ([]references.DeliveryJob, error)
}

// Options configures a Notifier. Zero values take the defaults in parentheses.
type Options struct {
	// Workers is how many deliveries run at once (32): POSTs under way. Recording an
	// attempt durably does not hold one of them (see streamsPerWorker).
	Workers int
	// ScanEvery is how often the outbox is scanned when nothing wakes the notifier (250ms).
	ScanEvery time.Duration
	// Retry is the backoff schedule of failed attempts (DefaultRetryPolicy, with
	// RetryWindow when that is set).
	Retry RetryPolicy
	// RetryWindow is how long an update is retried before it is given up (72h).
	RetryWindow time.Duration
	// UnsubscribeFailingAfter unsubscribes a reference whose callback has failed
	// without a success for this long (5 days).
	UnsubscribeFailingAfter time.Duration
	// Breakers are the per-destination circuit breakers (NewBreakers with defaults).
	Breakers *Breakers
	// BreakerWait is how long a delivery to a host whose breaker is open, or that has
	// MaxInFlightPerHost attempts under way, waits before it is looked at again,
	// uncounted (5s).
	BreakerWait time.Duration
	// MaxInFlightPerHost bounds the attempts under way to one destination host (3/4
	// of Workers), so a receiver that hangs holds that many workers at most, not all
	// of them: its breaker counts attempts only when they end. A delivery waits up to
	// HostWait (250ms) for a place, then is postponed by BreakerWait, uncounted.
	MaxInFlightPerHost int
	HostWait           time.Duration
	// BurstPerReference is how many updates of one reference a worker sends in a row
	// before it lets others have a turn (50).
	BurstPerReference int
	Now               func() time.Time
	Rand              func() float64
	Logger            *slog.Logger
	// Observe, when set, is called after every attempt (for metrics).
	Observe func(references.DeliveryJob, references.DeliveryAttempt)
}

// Notifier runs the delivery workers. Start it once; Stop drains in-flight attempts.
type Notifier struct {
	store  Store
	sender *Sender
	opts   Options
	log    *slog.Logger

	wake     chan struct{}
	sends    chan struct{} // a slot per delivery under way: Workers of them
	jobs     chan task
	room     chan struct{} // the queue is half empty again: a full scan may go on
	mu       sync.Mutex
	inFlight *inflight.Set            // references (and redelivery requests) being worked on
	perHost  map[string]chan struct{} // a place per attempt under way to a destination host

	stopScan context.CancelFunc // ends the scan loop
	cancel   context.CancelFunc // cancels attempts under way
	scanning sync.WaitGroup
	workers  sync.WaitGroup
}

// streamsPerWorker is how many references' streams are worked on per delivery slot.
// A stream waits for the durable record of each attempt before its next one (the
// order per reference, and nothing marked delivered before it is on disk), and that
// wait, a group commit, is as long as a POST to a nearby receiver: with one stream
// per slot, the slots would stand idle half the time.
const streamsPerWorker = 4

// task is one unit of work: the ordered stream of a reference, or one redelivery.
type task struct {
	refID      string
	redelivery *references.DeliveryJob
}

func (t task) key() string {
	if t.redelivery != nil {
		return "redeliver/" + t.refID + "/" + t.redelivery.Update.ID
	}
	return t.refID
}

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
	if opts.Breakers == nil {
		opts.Breakers = NewBreakers(BreakerSettings{})
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
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Notifier{
		store: store, sender: sender, opts: opts, log: opts.Logger,
		wake:     make(chan struct{}, 1),
		sends:    make(chan struct{}, opts.Workers),
		jobs:     make(chan task, opts.Workers*2),
		room:     make(chan struct{}, 1),
		inFlight: inflight.New(),
		perHost:  map[string]chan struct{}{},
	}
}

// Wake asks for an outbox scan now, e.g. right after the poller appended an update.
// It never blocks.
func (n *Notifier) Wake() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Start launches the scan loop and the workers; they run until Stop.
func (n *Notifier) Start(ctx context.Context) {
	workCtx, cancel := context.WithCancel(ctx)
	scanCtx, stopScan := context.WithCancel(workCtx)
	n.cancel, n.stopScan = cancel, stopScan
	for range n.opts.Workers * streamsPerWorker {
		n.workers.Add(1)
		go n.work(workCtx)
	}
	n.scanning.Add(1)
	go n.scanLoop(scanCtx)
}

func (n *Notifier) scanLoop(ctx context.Context) {
	defer n.scanning.Done()
	ticker := time.NewTicker(n.opts.ScanEvery)
	defer ticker.Stop()
	for {
		_, more, err := n.scan(ctx)
		if err != nil && ctx.Err() == nil {
			n.log.Error("outbox scan failed", "err", err)
		}
		if more {
			// The queue filled up with references still due: scan again as soon as
			// the workers have taken half of it, not at the next tick, or a backlog
			// would drain at one queue's worth per ScanEvery.
			select {
			case <-ctx.Done():
				return
			case <-n.room:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-n.wake:
		}
	}
}

// Stop stops scanning, lets the queued and running deliveries finish until ctx is done
// (then cancels them: an attempt cut short is not recorded and is sent again after the
// next start, with the same webhook-id) and waits for the workers.
func (n *Notifier) Stop(ctx context.Context) {
	n.stopScan()
	n.scanning.Wait()
	close(n.jobs) // only the scan loop sends, and it has returned
	done := make(chan struct{})
	go func() { n.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		n.cancel()
		<-done
	}
	n.cancel()
	n.sender.CloseIdleConnections()
}

// Scan queues the references with an update due, and the requested redeliveries, that
// are not already being worked on. It does not wait for the deliveries; it returns how
// many tasks it queued.
func (n *Notifier) Scan(ctx context.Context) (int, error) {
	queued, _, err := n.scan(ctx)
	return queued, err
}

// scan is Scan; more reports that the queue filled up with work still due.
func (n *Notifier) scan(ctx context.Context) (queued int, more bool, err error) {
	now := n.opts.Now()
	free := cap(n.jobs) - len(n.jobs)
	if free == 0 {
		return 0, true, nil
	}
	mark := n.inFlight.Scan()
	defer n.inFlight.EndScan(mark)
	var tasks []task
	redeliveries, err := n.store.Redeliveries(ctx, now, free)
	if err != nil {
		return 0, false, err
	}
	for i := range redeliveries {
		tasks = append(tasks, task{refID: redeliveries[i].Reference.ID, redelivery: &redeliveries[i]})
	}
	// Ask for more than fits: the most overdue may be in flight already.
	limit := free + n.inFlight.Len()
	ids, err := n.store.DueDeliveries(ctx, now, limit)
	if err != nil {
		return 0, false, err
	}
	for _, id := range ids {
		tasks = append(tasks, task{refID: id})
	}
	for _, t := range tasks {
		if !n.inFlight.Claim(t.key(), mark) {
			continue
		}
		select {
		case n.jobs <- t:
			queued++
		default:
			n.inFlight.Unclaim(t.key())
			return queued, true, nil // full: the rest wait for the next scan
		}
	}
	return queued, len(ids) == limit, nil
}

func (n *Notifier) work(ctx context.Context) {
	defer n.workers.Done()
	for t := range n.jobs {
		if len(n.jobs) <= cap(n.jobs)/2 {
			select {
			case n.room <- struct{}{}:
			default:
			}
		}
		if ctx.Err() == nil {
			var err error
			if t.redelivery != nil {
				_, err = n.attempt(ctx, *t.redelivery)
			} else {
				err = n.deliverStream(ctx, t.refID)
			}
			if err != nil && ctx.Err() == nil {
				n.log.Error("delivery failed", "reference_id", t.refID, "err", err)
			}
		}
		n.inFlight.Release(t.key())
	}
}

// deliverStream sends the reference's due updates in order, up to BurstPerReference,
// and stops at the first one that is not delivered: it waits for its retry, and
// nothing after it is sent before.
func (n *Notifier) deliverStream(ctx context.Context, refID string) error {
	for range n.opts.BurstPerReference {
		outcome, err := n.DeliverNext(ctx, refID)
		if errors.Is(err, references.ErrNothingToDeliver) {
			return nil
		}
		if err != nil || outcome != references.OutcomeDelivered {
			return err
		}
	}
	return nil
}

// DeliverNext sends the reference's next update once, synchronously, and records the
// attempt. It returns the attempt's outcome, or "" when no attempt was made because
// the destination's breaker is open (the delivery was postponed, uncounted).
func (n *Notifier) DeliverNext(ctx context.Context, refID string) (references.AttemptOutcome, error) {
	job, err := n.store.NextDelivery(ctx, refID, n.opts.Now())
	if err != nil {
		return "", err
	}
	return n.attempt(ctx, job)
}

// destination is the breaker key of a callback URL; an unparsable URL gets its own
// key (its attempt then fails with a clear error and is retried as usual).
func destination(rawURL string) string {
	host, err := DestinationKey(rawURL)
	if err != nil {
		return rawURL
	}
	return host
}

// attempt makes one POST for job through the destination's breaker and records it.
// An open breaker, or MaxInFlightPerHost attempts to the host under way, postpones
// the delivery without an attempt; a shutdown during the POST records nothing.
func (n *Notifier) attempt(ctx context.Context, job references.DeliveryJob) (references.AttemptOutcome, error) {
	body, err := webhook.Encode(job.Update)
	if err != nil {
		return "", fmt.Errorf("encode update %s: %w", job.Update.ID, err)
	}
	res, err := n.send(ctx, destination(job.Reference.CallbackURL), job, body)
	if err == nil {
		return n.record(ctx, job, res)
	}
	if errors.Is(err, ErrHostUnavailable) {
		if job.Redelivery {
			return "", nil // stays queued; a later scan tries again
		}
		return "", n.store.PostponeDelivery(ctx, job.Reference.ID, n.opts.Now().Add(n.opts.BreakerWait))
	}
	return "", err
}

// send makes one POST through the host's breaker, holding one of the host's
// MaxInFlightPerHost places and one of the Workers slots. With no place free for
// HostWait it sends nothing and returns ErrHostUnavailable, as for an open breaker.
func (n *Notifier) send(ctx context.Context, host string, job references.DeliveryJob, body []byte) (Result, error) {
	places := n.hostPlaces(host)
	select {
	case places <- struct{}{}:
	default:
		wait := time.NewTimer(n.opts.HostWait)
		defer wait.Stop()
		select {
		case places <- struct{}{}:
		case <-wait.C:
			return Result{}, fmt.Errorf("%w: %s: %d attempts under way", ErrHostUnavailable, host, n.opts.MaxInFlightPerHost)
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}
	defer func() { <-places }()
	select {
	case n.sends <- struct{}{}:
	case <-ctx.Done():
		return Result{}, ctx.Err() // shutting down: nothing was sent
	}
	defer func() { <-n.sends }()
	res, err := n.opts.Breakers.Do(host, func() Result {
		return n.sender.Send(ctx, Request{URL: job.Reference.CallbackURL, UpdateID: job.Update.ID, Body: body, Secrets: job.Secrets})
	})
	if err == nil && ctx.Err() != nil {
		return res, ctx.Err() // shutting down: unrecorded, so it is sent again after restart
	}
	return res, err
}

// hostPlaces returns the host's places, made on first use (like its breaker).
func (n *Notifier) hostPlaces(host string) chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	places, ok := n.perHost[host]
	if !ok {
		places = make(chan struct{}, n.opts.MaxInFlightPerHost)
		n.perHost[host] = places
	}
	return places
}

// record decides what the attempt came to and writes it to the delivery log.
func (n *Notifier) record(ctx context.Context, job references.DeliveryJob, res Result) (references.AttemptOutcome, error) {
	a, unsubscribe := n.decide(job, res)
	// The attempt happened: record it even if shutdown starts now.
	ref, err := n.store.RecordAttempt(context.WithoutCancel(ctx), job, a, unsubscribe)
	if err != nil {
		return "", err
	}
	n.logAttempt(job, a, ref)
	if n.opts.Observe != nil {
		n.opts.Observe(job, a)
	}
	return a.Outcome, nil
}

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
