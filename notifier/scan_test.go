package notifier_test

import (
	"context"
	"fmt"
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
}

// TestNotifier_WorkersBoundsThePostsUnderWay checks that Workers limits the requests
// in flight, although more references' streams are worked on than that.
func TestNotifier_WorkersBoundsThePostsUnderWay(t *testing.T) {
	ctx := context.Background()
	// One receiver host: let it have every worker, to see Workers bound them.
	n, b := setup(t, notifier.Options{Workers: 2, MaxInFlightPerHost: 2})
	var mu sync.Mutex
	inFlight, most, got := 0, 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond) // a slow receiver, so that requests overlap
		mu.Lock()
		inFlight--
		got++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	const refs = 8
	for i := range refs {
		b.track(t, srv.URL, container(i), 1)
	}
	n.Start(ctx)
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return got == refs })
	n.Stop(ctx)
	if most != 2 {
		t.Fatalf("%d requests were under way at once with Workers 2", most)
	}
}

// TestNotifier_MaxInFlightPerHostBoundsOneReceiver checks that one destination gets at
// most MaxInFlightPerHost requests at once, the rest waiting uncounted, so a receiver
// that hangs cannot take every worker.
func TestNotifier_MaxInFlightPerHostBoundsOneReceiver(t *testing.T) {
	ctx := context.Background()
	n, b := setup(t, notifier.Options{Workers: 4, MaxInFlightPerHost: 1, BreakerWait: time.Second})
	var mu sync.Mutex
	inFlight, most, got := 0, 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond) // a slow receiver, so that requests would overlap
		mu.Lock()
		inFlight--
		got++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	const refs = 6
	var ids []string
	for i := range refs {
		ids = append(ids, b.track(t, srv.URL, container(i), 1).ID)
	}
	n.Start(ctx)
	waitFor(t, func() bool {
		b.clock.Advance(time.Second) // postponed deliveries come due again
		n.Wake()
		mu.Lock()
		defer mu.Unlock()
		return got == refs
	})
	n.Stop(ctx)
	if most != 1 {
		t.Fatalf("%d requests to one host at once with MaxInFlightPerHost 1", most)
	}
	for _, id := range ids {
		for _, a := range b.log(t, id) {
			if a.Attempt != 1 || a.Outcome != references.OutcomeDelivered {
				t.Fatalf("waiting for the host was counted as an attempt: %+v", a)
			}
		}
	}
}
