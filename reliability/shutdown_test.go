package reliability_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/references"
)

// TestShutdown_SIGTERMUnderLoadExitsInTimeAndLosesNothing sends SIGTERM to the real
// binary while its receiver is slow and a backlog of deliveries is waiting: the
// service must exit 0 within its --shutdown-timeout (finishing or abandoning the
// attempts in flight), and after a restart every update must still reach the receiver,
// in order.
func TestShutdown_SIGTERMUnderLoadExitsInTimeAndLosesNothing(t *testing.T) {
	t.Parallel()
	const shutdownTimeout = 2 * time.Second
	refs, backlogWanted := 40, 60
	if *soak {
		refs, backlogWanted = 150, 400
	}
	start := time.Now()
	rng := newRand(t)
	rcv := newReceiver(t)
	// Slow enough that some attempts outlast the shutdown timeout and are abandoned.
	rcv.setDelay(func() time.Duration { return rng.duration(50*time.Millisecond, 2*shutdownTimeout) })

	const key = "shutdown-test-key-0123456789"
	svc := newService(t, key, "--demo-speed", "300000", "--poll-interval", "1s", "--min-poll-interval", "1s",
		"--allow-insecure-callbacks", "--allow-private-callbacks",
		"--shutdown-timeout", shutdownTimeout.String(), "--delivery-workers", "8", "--delivery-timeout", "10s")
	svc.start()
	secrets := svc.webhookSecrets()
	cr := &creator{svc: svc, rcv: rcv, rng: rng, ids: make([]string, refs)}
	cr.createUpTo(refs)
	if cr.next != refs || t.Failed() {
		t.Fatalf("created %d of %d references", cr.next, refs)
	}

	backlog := 0
	eventually(t, time.Minute, "a backlog of deliveries with attempts in flight", func() (bool, string) {
		backlog = 0
		for _, r := range svc.references() {
			backlog += int(r.LastSequence - r.DeliveredSequence)
		}
		inFlight := rcv.inFlight.Load()
		return backlog >= backlogWanted && inFlight >= 4, fmt.Sprintf("%d updates waiting, %d attempts in flight", backlog, inFlight)
	})
	inFlight := rcv.inFlight.Load()
	code, took := svc.terminate(shutdownTimeout + 20*time.Second)
	if code != 0 {
		t.Fatalf("exit code %d after SIGTERM; log:\n%s", code, svc.tail())
	}
	// Shutdown waits up to the timeout and then cancels what is left: the process must
	// be gone right after (two seconds of slack for a loaded machine and process exit).
	if limit := shutdownTimeout + 2*time.Second; took > limit {
		t.Errorf("exit took %v after SIGTERM, over the shutdown timeout %v plus 2 s; log:\n%s", took, shutdownTimeout, svc.tail())
	}
	abandoned := rcv.abandoned.Load()
	checkStoreFile(t, svc.dbPath)

	rcv.setDelay(nil)
	svc.start()
	var all []api.Reference
	eventually(t, 3*time.Minute, "every voyage over and delivered after the restart", func() (bool, string) {
		all = svc.references()
		return settled(all)
	})
	feeds := svc.feeds(all)
	if code, _ := svc.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after the second SIGTERM; log:\n%s", code, svc.tail())
	}
	stats := checkStoreFile(t, svc.dbPath)
	if stats.PendingDeliveries != 0 || stats.ActiveReferences != 0 {
		t.Errorf("store counters after the run: %+v", stats)
	}
	fig := checkDeliveries(t, feeds, rcv.deliveries(), secrets)
	checkChildLog(t, svc, map[string]string{
		"API key": key, "API key hash": references.HashAPIKey(key), "webhook secret": secrets[0],
	})
	t.Logf("shutdown: SIGTERM with %d updates waiting and %d attempts in flight; exit 0 after %v (timeout %v); %d attempts abandoned by the sender; after restart %s; run %v",
		backlog, inFlight, took.Round(time.Millisecond), shutdownTimeout, abandoned, fig, time.Since(start).Round(time.Millisecond))
}
