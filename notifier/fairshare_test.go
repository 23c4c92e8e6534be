package notifier_test

import (
	"context"
	"testing"
	"time"

	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/references"
)

// busyAccount gives account "acct" one reference with an update on each of n receivers
// that hang until released; it returns them.
func busyAccount(t *testing.T, b *bundle, n int) []*gate {
	t.Helper()
	var gates []*gate
	for i := range n {
		g := newGate(t)
		gates = append(gates, g)
		b.track(t, g.URL, container(i), 1)
	}
	return gates
}

func arrivals(gates []*gate) int {
	sum := 0
	for _, g := range gates {
		sum += g.count(&g.arrived)
	}
	return sum
}

// TestNotifier_QuietAccountGetsTheNextFreeSlotAheadOfABusyOne: one account's POSTs
// hold both delivery slots and three more of its deliveries wait; another account's
// delivery, which comes later, gets the next slot that frees.
func TestNotifier_QuietAccountGetsTheNextFreeSlotAheadOfABusyOne(t *testing.T) {
	ctx := context.Background()
	_, b := setup(t, notifier.Options{})
	b.sendTimeout = time.Minute // the busy account's receivers hang until released
	n := b.notifier(notifier.Options{Workers: 2, ScanEvery: time.Hour, HostWait: time.Hour})
	gates := busyAccount(t, b, 5)
	quietRcv := newGate(t) // holds the request: the slot stays the quiet account's meanwhile
	quiet := b.trackAs(t, "acct_quiet", quietRcv.URL, container(99), 0)
	n.Start(ctx)
	// Two POSTs under way, three deliveries waiting (HostWait at most: their account
	// holds its share), and the scan's and the lease renewal's timers.
	waitFor(t, func() bool { return arrivals(gates) == 2 && b.clock.Timers() == loopTimers+3 })

	b.appendUpdates(t, quiet.ID, 1, references.UpdateShipment)
	n.Wake()
	waitFor(t, func() bool { return n.Waiting() == 3+1 })
	var freed *gate
	for _, g := range gates {
		if g.count(&g.arrived) == 1 {
			freed = g
			break
		}
	}
	freed.release() // one slot frees; three of the busy account's deliveries wait for it
	waitFor(t, func() bool { return quietRcv.count(&quietRcv.arrived) == 1 })
	if got := arrivals(gates); got != 2 {
		t.Fatalf("the busy account's receivers got %d requests; the freed slot should have gone to the other account", got)
	}
	quietRcv.release()
	for _, g := range gates {
		g.release()
	}
	waitFor(t, func() bool { return arrivals(gates) == len(gates) })
	n.Stop(ctx)
}

// TestNotifier_BusyAccountGivesBackItsStreamsSoAQueuedAccountGetsIn: one account's
// deliveries fill every stream the notifier works at once (two POSTs that hang, six
// waiting for their slots); another account's delivery, claimed behind them, gets in
// once the waiting ones gave up after HostWait (postponed, uncounted), and takes the
// next slot that frees.
func TestNotifier_BusyAccountGivesBackItsStreamsSoAQueuedAccountGetsIn(t *testing.T) {
	ctx := context.Background()
	const hostWait, breakerWait = 250 * time.Millisecond, time.Hour
	_, b := setup(t, notifier.Options{})
	b.sendTimeout = time.Minute
	n := b.notifier(notifier.Options{Workers: 2, ScanEvery: time.Hour, HostWait: hostWait, BreakerWait: breakerWait})
	const streams = 2 * 4 // Workers * streamsPerWorker
	gates := busyAccount(t, b, streams)
	quietRcv := newGate(t)
	quiet := b.trackAs(t, "acct_quiet", quietRcv.URL, container(99), 0)
	n.Start(ctx)
	waitFor(t, func() bool { return arrivals(gates) == 2 && b.clock.Timers() == loopTimers+streams-2 })

	b.appendUpdates(t, quiet.ID, 1, references.UpdateShipment)
	n.Wake()
	waitFor(t, func() bool { return b.store.claims() == streams+1 }) // queued: no stream is free
	b.clock.Advance(hostWait)
	waitFor(t, func() bool { return len(b.store.postponements()) == streams-2 && n.Waiting() == 1 })
	for _, g := range gates {
		if g.count(&g.arrived) == 1 {
			g.release()
			break
		}
	}
	waitFor(t, func() bool { return quietRcv.count(&quietRcv.arrived) == 1 })
	if got := arrivals(gates); got != 2 {
		t.Fatalf("the busy account's receivers got %d requests, want the 2 first", got)
	}
	quietRcv.release()
	waitFor(t, func() bool { return b.ref(t, quiet.ID).DeliveredSequence == 1 })
	for _, p := range b.store.postponements() {
		if p.refID == quiet.ID {
			t.Fatal("the quiet account's delivery was postponed")
		}
	}
	for _, g := range gates {
		g.release()
	}
	n.Stop(ctx)
}

// TestNotifier_OneAccountAloneUsesEverySlot: fair shares leave nothing idle; with
// another account present but nothing to deliver, one account's deliveries take all
// Workers.
func TestNotifier_OneAccountAloneUsesEverySlot(t *testing.T) {
	ctx := context.Background()
	const workers = 4
	_, b := setup(t, notifier.Options{})
	b.sendTimeout = time.Minute
	n := b.notifier(notifier.Options{Workers: workers, MaxInFlightPerHost: workers, ScanEvery: time.Hour})
	rcv := newGate(t)
	for i := range 3 * workers {
		b.track(t, rcv.URL, container(i), 1)
	}
	b.trackAs(t, "acct_idle", newReceiver(t).URL, container(99), 0)
	n.Start(ctx)
	waitFor(t, func() bool { return rcv.count(&rcv.underWay) == workers })
	rcv.release()
	waitFor(t, func() bool { return rcv.count(&rcv.answered) == 3*workers })
	n.Stop(ctx)
	if most := rcv.count(&rcv.most); most != workers {
		t.Fatalf("at most %d POSTs under way with %d Workers and one account delivering", most, workers)
	}
}
