package notifier_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/references"
)

// container returns the i-th of a series of valid container numbers.
func container(i int) string {
	s := fmt.Sprintf("TRHU%06d", i)
	return fmt.Sprintf("%s%d", s, references.ContainerCheckDigit(s))
}

// TestNotifier_ScanKeepsFeedingAFullQueue gives more references an update than the
// queue holds, with no tick to come: the scan must go on as the workers take the
// queue, not leave the rest for the next tick.
func TestNotifier_ScanKeepsFeedingAFullQueue(t *testing.T) {
	ctx := context.Background()
	n, b := setup(t, notifier.Options{Workers: 1, ScanEvery: time.Hour})
	rcv := newReceiver(t)
	const refs = 12 // the queue holds 2 with one worker
	var ids []string
	for i := range refs {
		ids = append(ids, b.track(t, rcv.URL, container(i), 1).ID)
	}
	n.Start(ctx)
	waitFor(t, func() bool {
		for _, id := range ids {
			if b.ref(t, id).DeliveredSequence != 1 {
				return false
			}
		}
		return true
	})
	n.Stop(ctx)
	// Scans run while streams are worked on: their leases keep them from being handed
	// out twice.
	if got := len(rcv.deliveries()); got != refs {
		t.Fatalf("receiver got %d requests for %d updates", got, refs)
	}
}

// gate is a receiver on one host that holds every request until it is opened, and
// counts the requests under way.
type gate struct {
	*httptest.Server
	open     chan struct{}
	openOnce sync.Once

	mu                                           sync.Mutex
	underWay, most, arrived, answered, cancelled int
}

func newGate(t *testing.T) *gate {
	g := &gate{open: make(chan struct{})}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // then the server sees the client go away
		g.mu.Lock()
		g.underWay++
		g.arrived++
		g.most = max(g.most, g.underWay)
		g.mu.Unlock()
		defer func() {
			g.mu.Lock()
			g.underWay--
			g.mu.Unlock()
		}()
		select {
		case <-g.open:
			g.mu.Lock()
			g.answered++
			g.mu.Unlock()
			w.WriteHeader(http.StatusOK)
		case <-r.Context().Done():
			g.mu.Lock()
			g.cancelled++
			g.mu.Unlock()
		}
	}))
	t.Cleanup(func() { g.release(); g.Close() })
	return g
}

// release lets every request held and to come through.
func (g *gate) release() { g.openOnce.Do(func() { close(g.open) }) }

// count reads one of the counters under the lock.
func (g *gate) count(c *int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return *c
}

// loopTimers are the timers a started notifier keeps on its clock while it works:
// the next scan and the next lease renewal. Every other timer on a test's fake clock
// is a delivery waiting HostWait for a place at its host.
const loopTimers = 2

// TestNotifier_WorkersBoundsThePostsUnderWay checks that Workers limits the requests
// in flight, although more references' streams are worked on than that.
func TestNotifier_WorkersBoundsThePostsUnderWay(t *testing.T) {
	ctx := context.Background()
	// One receiver host: let it have every worker, to see Workers bound them.
	_, b := setup(t, notifier.Options{})
	b.sendTimeout = time.Minute // the receiver holds the requests until told
	n := b.notifier(notifier.Options{Workers: 2, MaxInFlightPerHost: 2})
	rcv := newGate(t)
	const refs = 8 // as many streams as two workers work on at once
	for i := range refs {
		b.track(t, rcv.URL, container(i), 1)
	}
	n.Start(ctx)
	// Every stream is either at the receiver, which holds it, or waiting: the fake
	// clock stands still, so no wait runs out.
	waitFor(t, func() bool { return rcv.count(&rcv.arrived)+b.clock.Timers()-loopTimers == refs })
	if got := rcv.count(&rcv.underWay); got != 2 {
		t.Fatalf("%d requests were under way at once with Workers 2", got)
	}
	rcv.release()
	waitFor(t, func() bool { return rcv.count(&rcv.answered) == refs })
	n.Stop(ctx)
	if most := rcv.count(&rcv.most); most != 2 {
		t.Fatalf("%d requests were under way at once with Workers 2", most)
	}
}

// TestNotifier_MaxInFlightPerHostBoundsOneReceiver checks that one destination gets at
// most MaxInFlightPerHost requests at once, the rest waiting uncounted, so a receiver
// that hangs cannot take every worker.
func TestNotifier_MaxInFlightPerHostBoundsOneReceiver(t *testing.T) {
	ctx := context.Background()
	const hostWait, breakerWait = 250 * time.Millisecond, time.Second
	_, b := setup(t, notifier.Options{})
	b.sendTimeout = time.Minute // the receiver hangs until the test lets it answer
	n := b.notifier(notifier.Options{Workers: 4, MaxInFlightPerHost: 1, HostWait: hostWait, BreakerWait: breakerWait})
	rcv := newGate(t)
	const refs = 6
	var ids []string
	for i := range refs {
		ids = append(ids, b.track(t, rcv.URL, container(i), 1).ID)
	}
	n.Start(ctx)
	// One request reaches the host; the five other streams wait for its place.
	waitFor(t, func() bool { return rcv.count(&rcv.arrived) == 1 && b.clock.Timers() == loopTimers+refs-1 })
	b.clock.Advance(hostWait)
	waitFor(t, func() bool { return len(b.store.postponements()) == refs-1 })
	for _, p := range b.store.postponements() {
		if want := epoch.Add(hostWait + breakerWait); !p.until.Equal(want) {
			t.Fatalf("%s postponed until %v, want %v (BreakerWait after HostWait)", p.refID, p.until, want)
		}
	}
	if got := rcv.count(&rcv.arrived); got != 1 {
		t.Fatalf("%d requests to one host at once with MaxInFlightPerHost 1", got)
	}
	rcv.release()
	b.clock.Advance(breakerWait) // the postponed deliveries come due again
	n.Wake()
	waitFor(t, func() bool { return rcv.count(&rcv.answered) == refs })
	n.Stop(ctx)
	if most := rcv.count(&rcv.most); most != 1 {
		t.Fatalf("%d requests to one host at once with MaxInFlightPerHost 1", most)
	}
	for _, id := range ids {
		log := b.log(t, id)
		if len(log) != 1 {
			t.Fatalf("%d attempts logged for one update: %+v", len(log), log)
		}
		if a := log[0]; a.Attempt != 1 || a.Outcome != references.OutcomeDelivered {
			t.Fatalf("waiting for the host was counted as an attempt: %+v", a)
		}
	}
}

// TestNotifier_NoPlaceAtTheHostWaitsHostWaitThenPostponesUncounted checks that a
// delivery to a host with every place taken waits HostWait for one, on the notifier's
// clock, and is then postponed by BreakerWait without an attempt.
func TestNotifier_NoPlaceAtTheHostWaitsHostWaitThenPostponesUncounted(t *testing.T) {
	ctx := context.Background()
	_, b := setup(t, notifier.Options{})
	b.sendTimeout = time.Minute // the receiver holds the first request until told
	const hostWait, breakerWait = 250 * time.Millisecond, 5 * time.Second
	n := b.notifier(notifier.Options{MaxInFlightPerHost: 1, HostWait: hostWait, BreakerWait: breakerWait})
	rcv := newGate(t)
	first := b.track(t, rcv.URL, container(1), 1)
	second := b.track(t, rcv.URL, container(2), 1)

	type result struct {
		out references.AttemptOutcome
		err error
	}
	deliver := func(id string) <-chan result {
		done := make(chan result, 1)
		go func() {
			out, err := n.DeliverNext(ctx, id)
			done <- result{out, err}
		}()
		return done
	}
	firstDone := deliver(first.ID)
	waitFor(t, func() bool { return rcv.count(&rcv.arrived) == 1 }) // it holds the host's place
	secondDone := deliver(second.ID)
	waitFor(t, func() bool { return b.clock.Timers() == 1 }) // it waits for a place

	b.clock.Advance(hostWait - time.Millisecond)
	if b.clock.Timers() != 1 {
		t.Fatal("the delivery stopped waiting for a place before HostWait")
	}
	select {
	case r := <-secondDone:
		t.Fatalf("the delivery returned (%q, %v) before HostWait", r.out, r.err)
	default:
	}
	b.clock.Advance(time.Millisecond)
	var r result
	select {
	case r = <-secondDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the delivery still waits after HostWait")
	}
	if r.err != nil || r.out != "" {
		t.Fatalf("after HostWait: %q, %v; want no attempt", r.out, r.err)
	}
	if got := rcv.count(&rcv.arrived); got != 1 || len(b.log(t, second.ID)) != 0 {
		t.Fatalf("waiting for a place made an attempt: %d requests, log %+v", got, b.log(t, second.ID))
	}
	want := []postponement{{refID: second.ID, until: epoch.Add(hostWait + breakerWait)}}
	if got := b.store.postponements(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("postponed %v, want %v", got, want)
	}
	b.clock.Advance(breakerWait - time.Millisecond)
	if contains(b.due(t), second.ID) {
		t.Fatal("the postponed delivery is due before BreakerWait")
	}
	b.clock.Advance(time.Millisecond)
	if !contains(b.due(t), second.ID) {
		t.Fatal("the postponed delivery is not due after BreakerWait")
	}

	rcv.release()
	if r := <-firstDone; r.err != nil || r.out != references.OutcomeDelivered {
		t.Fatalf("first delivery: %q, %v", r.out, r.err)
	}
	if out, err := n.DeliverNext(ctx, second.ID); err != nil || out != references.OutcomeDelivered {
		t.Fatalf("second delivery once the place is free: %q, %v", out, err)
	}
	if a := b.log(t, second.ID); len(a) != 1 || a[0].Attempt != 1 {
		t.Fatalf("waiting for the host was counted as an attempt: %+v", a)
	}
}

// TestNotifier_StreamUnderWayIsNotHandedOutAgain checks that the lease on a stream
// being worked on keeps it from everyone else meanwhile: the notifier's own scans,
// DeliverNext, and another instance sharing the store.
func TestNotifier_StreamUnderWayIsNotHandedOutAgain(t *testing.T) {
	ctx := context.Background()
	_, b := setup(t, notifier.Options{})
	b.sendTimeout = time.Minute // the receiver holds the first request until told
	n := b.notifier(notifier.Options{ScanEvery: time.Hour})
	rcv := newGate(t)
	ref := b.track(t, rcv.URL, container(1), 2)
	n.Start(ctx)
	waitFor(t, func() bool { return rcv.count(&rcv.arrived) == 1 })

	if queued, err := n.Scan(ctx); err != nil || queued != 0 {
		t.Fatalf("a scan while the stream is worked on queued %d (%v)", queued, err)
	}
	if _, err := n.DeliverNext(ctx, ref.ID); !errors.Is(err, references.ErrBusy) {
		t.Fatalf("DeliverNext while the stream is worked on: %v, want ErrBusy", err)
	}
	if ids := b.due(t); contains(ids, ref.ID) {
		t.Fatal("another owner was handed a stream under way")
	}

	rcv.release()
	waitFor(t, func() bool { return b.ref(t, ref.ID).DeliveredSequence == 2 })
	n.Stop(ctx)
	if got := rcv.count(&rcv.arrived); got != 2 {
		t.Fatalf("receiver got %d requests for 2 updates", got)
	}
	for _, a := range b.log(t, ref.ID) {
		if a.Attempt != 1 || a.Outcome != references.OutcomeDelivered {
			t.Fatalf("log: %+v", b.log(t, ref.ID))
		}
	}
}

// TestNotifier_LostLeaseCancelsTheAttemptAndRecordsNothing lets a stream's lease run
// out while its POST is under way (the store's clock passes its end before the
// renewal): the renewal is refused, the attempt is cancelled, nothing is recorded, and
// another owner may take the stream meanwhile without the first one disturbing it.
func TestNotifier_LostLeaseCancelsTheAttemptAndRecordsNothing(t *testing.T) {
	ctx := context.Background()
	_, b := setup(t, notifier.Options{})
	b.sendTimeout = time.Minute // only the lost lease ends the held request
	const lease = 30 * time.Second
	n := b.notifier(notifier.Options{Lease: lease, ScanEvery: time.Hour})
	hold := make(chan struct{})
	b.store.holdReleases = hold // the notifier gives its lease back after the other owner took the stream
	rcv := newGate(t)
	ref := b.track(t, rcv.URL, container(1), 1)
	n.Start(ctx)
	waitFor(t, func() bool { return rcv.count(&rcv.arrived) == 1 && b.clock.Timers() == loopTimers })

	b.clock.Advance(lease + time.Second) // the renewal (due at lease/3) finds the lease over
	waitFor(t, func() bool { return rcv.count(&rcv.cancelled) == 1 && b.store.releases() == 1 })
	claims, err := b.db.ClaimDueDeliveries(ctx, "other", 10, time.Minute)
	if err != nil || len(claims) != 1 || claims[0].Job.Reference.ID != ref.ID {
		t.Fatalf("another owner's claim after the lease ran out: %+v, %v", claims, err)
	}
	close(hold)
	n.Stop(ctx)

	if r := b.ref(t, ref.ID); r.DeliveredSequence != 0 || len(b.log(t, ref.ID)) != 0 {
		t.Fatalf("an attempt under a lost lease was recorded: delivered %d, log %+v", r.DeliveredSequence, b.log(t, ref.ID))
	}
	if got := rcv.count(&rcv.answered); got != 0 {
		t.Fatalf("the cancelled request was answered %d times", got)
	}
	// The first owner gave back what it no longer held, not the other's claim.
	if _, err := b.db.RenewLease(ctx, claims[0].Lease, time.Minute); err != nil {
		t.Fatalf("the other owner lost its claim: %v", err)
	}
	if err := b.db.ReleaseLease(ctx, claims[0].Lease); err != nil {
		t.Fatal(err)
	}

	rcv.release()
	if out, err := b.notifier(notifier.Options{}).DeliverNext(ctx, ref.ID); err != nil || out != references.OutcomeDelivered {
		t.Fatalf("after the lost lease: %q, %v", out, err)
	}
	if a := b.log(t, ref.ID); len(a) != 1 || a[0].Attempt != 1 {
		t.Fatalf("the cancelled attempt was counted: %+v", a)
	}
}

// TestNotifier_ClaimThatRanOutInTheQueueIsNotSent fills every worker with streams that
// wait (one POST held by its receiver, the others for the one delivery slot) and
// queues two more claims behind them. The loop renews the leases of the work under
// way, not of the queue: the queued claims run out meanwhile and the notifier's next
// scan hands their streams out again. A queued claim that ran out must not be sent
// when a worker gets to it: each update is delivered once.
func TestNotifier_ClaimThatRanOutInTheQueueIsNotSent(t *testing.T) {
	ctx := context.Background()
	_, b := setup(t, notifier.Options{})
	b.sendTimeout = time.Minute // the receivers hold the requests until told
	const lease = 30 * time.Second
	// One delivery slot, four streams worked on at once, two claims queued; one
	// stream more than that, so that every scan ends on a full queue and sets no timer.
	// The three streams waiting for the slot wait HostWait at most (their account
	// holds its share, the one slot): longer than the test, so they keep waiting.
	n := b.notifier(notifier.Options{Workers: 1, MaxInFlightPerHost: 1, Lease: lease, ScanEvery: time.Hour, HostWait: time.Hour})
	const refs, held = 7, 6
	var rcvs []*gate
	var ids []string
	for i := range refs {
		rcv := newGate(t) // a host each: a stream waits for the slot, not for its host
		rcvs = append(rcvs, rcv)
		ids = append(ids, b.track(t, rcv.URL, container(i), 1).ID)
	}
	arrived := func() int {
		sum := 0
		for _, r := range rcvs {
			sum += r.count(&r.arrived)
		}
		return sum
	}
	n.Start(ctx)
	// The timers are the lease renewal's and the three waits for the slot.
	const timers = 1 + 3
	waitFor(t, func() bool { return b.store.claims() == held && arrived() == 1 && b.clock.Timers() == timers })
	// The work under way is renewed (every lease/3), the queued claims are not: past
	// the end of their leases, the streams worked on still hold theirs.
	b.clock.Advance(2 * lease / 3)
	waitFor(t, func() bool { return b.clock.Timers() == timers }) // renewed, and the renewal timer set again
	b.clock.Advance(lease/3 + time.Second)
	for _, r := range rcvs {
		r.release()
	}
	waitFor(t, func() bool {
		for _, id := range ids {
			if b.ref(t, id).DeliveredSequence != 1 {
				return false
			}
		}
		return true
	})
	n.Stop(ctx)
	for i, r := range rcvs {
		if got := r.count(&r.answered); got != 1 {
			t.Errorf("receiver %d was delivered one update %d times", i, got)
		}
		if log := b.log(t, ids[i]); len(log) != 1 || log[0].Attempt != 1 {
			t.Errorf("reference %d: log %+v", i, log)
		}
	}
}
