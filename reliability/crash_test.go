package reliability_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/references"
)

// crashPlan sizes a crash test run.
type crashPlan struct {
	refs             int           // references to create, spread over the first lives
	kills            int           // SIGKILLs before the last, clean run
	speed            string        // --demo-speed: a whole voyage in some 10-20 s at 300000
	lifeMin, lifeMax time.Duration // how long the service runs before a kill
}

// Kinds of kill moments.
const (
	killAtRandomTime = iota // a random time into the run
	killAfterWebhook        // right after the receiver accepted a webhook, before the service hears the answer
	killDuringCreate        // a few milliseconds after a create was sent
	killMomentKinds
)

// armKillTrigger picks the kind of the next kill's moment at random: after 1 to
// maxAccepts more accepted webhooks, during one of the creates up to upTo, or (the
// trigger left unarmed) at a random time.
func armKillTrigger(rng *lockedRand, cr *creator, upTo, maxAccepts int) *killTrigger {
	trig := newKillTrigger()
	switch rng.intN(3) {
	case killAfterWebhook:
		trig.accepts = 1 + rng.intN(maxAccepts)
	case killDuringCreate:
		if cr.next < upTo {
			trig.createAt = cr.next + rng.intN(upTo-cr.next)
		}
	}
	return trig
}

// awaitKillMoment waits for the moment of one kill and says which it was: the
// trigger's (a webhook accepted, or a create under way, a few milliseconds in), or a
// random time into the run. The moment is the point of the crash tests: random, not a
// wait for some state.
func awaitKillMoment(trig *killTrigger, plan crashPlan, rng *lockedRand) int {
	select {
	case <-trig.fire:
		if trig.createAt >= 0 {
			time.Sleep(rng.duration(0, 3*time.Millisecond)) // the create is on its way
			return killDuringCreate
		}
		return killAfterWebhook
	case <-time.After(rng.duration(plan.lifeMin, plan.lifeMax)):
		return killAtRandomTime
	}
}

// killTrigger picks the moment of one kill: fire is closed when the receiver has
// accepted the armed number of webhooks, or when the armed create starts.
type killTrigger struct {
	mu       sync.Mutex
	fire     chan struct{}
	fired    bool
	accepts  int // fire on this many more accepted webhooks; 0: not armed
	createAt int // fire when this planned reference's create starts; -1: not armed
}

func newKillTrigger() *killTrigger { return &killTrigger{fire: make(chan struct{}), createAt: -1} }

func (k *killTrigger) pull() {
	if !k.fired {
		k.fired = true
		close(k.fire)
	}
}

func (k *killTrigger) accepted() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.accepts > 0 {
		if k.accepts--; k.accepts == 0 {
			k.pull()
		}
	}
}

func (k *killTrigger) creating(i int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if i == k.createAt {
		k.pull()
	}
}

// TestCrash_SIGKILLAtRandomMomentsLosesNothing runs the real binary with a fast demo
// carrier and a loopback receiver, kills it with SIGKILL at random moments (a random
// time into the run, right after a webhook was accepted, or while a create is under
// way) and restarts it on the same store each time. When every voyage is over it
// checks that every update of every feed reached the receiver, verified, in order,
// repeated only under the same webhook-id; that every create happened exactly once;
// that the account feed numbers every update once, without a gap (checkAccountFeed);
// and that the store passes bbolt's consistency check after every kill.
func TestCrash_SIGKILLAtRandomMomentsLosesNothing(t *testing.T) {
	t.Parallel()
	plan := crashPlan{refs: 36, kills: 8, speed: "300000", lifeMin: 100 * time.Millisecond, lifeMax: 2500 * time.Millisecond}
	if *soak {
		plan = crashPlan{refs: 150, kills: 30, speed: "100000", lifeMin: 50 * time.Millisecond, lifeMax: 6 * time.Second}
	}
	start := time.Now()
	rng := newRand(t)
	rcv := newReceiver(t)
	// A little latency at the receiver keeps deliveries in flight when the kill comes.
	rcv.setDelay(func() time.Duration { return rng.duration(0, 15*time.Millisecond) })

	const key = "crash-test-key-0123456789"
	svc := newService(t, key, "--demo-speed", plan.speed, "--poll-interval", "1s", "--min-poll-interval", "1s",
		"--allow-insecure-callbacks", "--allow-private-callbacks")
	svc.start()
	secrets := svc.webhookSecrets()

	cr := &creator{svc: svc, rcv: rcv, rng: rng, ids: make([]string, plan.refs)}
	creatingLives := max(1, (plan.kills+1)/2)
	perLife := (plan.refs + creatingLives - 1) / creatingLives
	var moments [killMomentKinds]int
	for kill := 1; kill <= plan.kills; kill++ {
		upTo := min(cr.next+perLife, plan.refs)
		trig := armKillTrigger(rng, cr, upTo, 8)
		accepted := trig.accepted
		rcv.onAccept.Store(&accepted)
		cr.before = trig.creating
		done := make(chan struct{})
		go func() { defer close(done); cr.createUpTo(upTo) }()

		moments[awaitKillMoment(trig, plan, rng)]++
		svc.kill()
		<-done
		rcv.onAccept.Store(nil)
		checkStoreFile(t, svc.dbPath)
		svc.start()
	}
	cr.before = nil
	cr.createUpTo(plan.refs)
	if t.Failed() {
		t.FailNow()
	}

	var refs []api.Reference
	eventually(t, 3*time.Minute, "every voyage over and delivered", func() (bool, string) {
		refs = svc.references()
		return settled(refs)
	})
	feeds := svc.feeds(refs)
	checkAccountFeed(t, svc, feeds)
	if code, took := svc.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v); log:\n%s", code, took, svc.tail())
	}

	stats := checkStoreFile(t, svc.dbPath)
	if stats.ActiveReferences != 0 || stats.PendingDeliveries != 0 || stats.UnsubscribedReferences != int64(plan.refs) {
		t.Errorf("store counters after the run: %+v, want 0 active, 0 pending, %d unsubscribed", stats, plan.refs)
	}
	if len(refs) != plan.refs {
		t.Errorf("the service lists %d references, %d were created", len(refs), plan.refs)
	}
	listed := map[string]bool{}
	for _, r := range refs {
		listed[r.ID] = true
		if r.UnsubscribeReason != references.ReasonTrackingComplete {
			t.Errorf("%s ended with %q, want tracking_complete", r.ID, r.UnsubscribeReason)
		}
	}
	for i, id := range cr.ids {
		if !listed[id] {
			t.Errorf("reference %d (%s) was created but is not listed", i, id)
		}
	}
	fig := checkDeliveries(t, feeds, rcv.deliveries(), secrets)
	checkChildLog(t, svc, map[string]string{
		"API key": key, "API key hash": references.HashAPIKey(key), "webhook secret": secrets[0],
	})
	t.Logf("crash: %d kills survived (%d at a random time, %d right after a webhook was accepted, %d during a create), %d restarts; %s; %d creates replayed by Idempotency-Key; build %v, run %v",
		plan.kills, moments[killAtRandomTime], moments[killAfterWebhook], moments[killDuringCreate], svc.starts, fig, cr.replayed,
		build.took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// creator creates the planned references in order, each with its own Idempotency-Key,
// so that a create cut short by a kill is retried after the restart and returns the
// reference it made, if it made one.
type creator struct {
	svc      *service
	rcv      *receiver
	rng      *lockedRand
	ids      []string  // the reference id of each planned reference, once created
	next     int       // the first planned reference not yet created
	replayed int       // creates answered from the Idempotency-Key record
	before   func(int) // when set, called as the create of a planned reference starts
	// metadata, when set, gives more metadata for the i-th planned reference.
	metadata func(i int) map[string]string
}

// createUpTo creates planned references up to n (excluded) and returns early, without
// failing, when the service goes away. A refused create fails the test.
func (c *creator) createUpTo(n int) {
	for ; c.next < n; c.next++ {
		i := c.next
		meta := map[string]string{"order": fmt.Sprint(i)}
		if c.metadata != nil {
			maps.Copy(meta, c.metadata(i))
		}
		body := map[string]any{
			"container_id":  containerID("RLBU", 100000+i*7),
			"carrier_code":  "MSCU",
			"callback_url":  fmt.Sprintf("%s/hooks/%d", c.rcv.URL, i),
			"poll_interval": "1s",
			"metadata":      meta,
		}
		if c.before != nil {
			c.before(i)
		}
		status, out, hdr, err := c.svc.do(http.MethodPost, "/references", body, "Idempotency-Key", fmt.Sprintf("crash-ref-%d", i))
		if err != nil {
			return // killed: this one is retried after the restart
		}
		if status != http.StatusCreated {
			c.svc.t.Errorf("create %d: %d %s", i, status, out)
			return
		}
		var ref api.Reference
		if err := json.Unmarshal(out, &ref); err != nil || ref.ID == "" {
			c.svc.t.Errorf("create %d: %v %s", i, err, out)
			return
		}
		if hdr.Get("Idempotent-Replayed") == "true" {
			c.replayed++
		}
		c.ids[i] = ref.ID
		time.Sleep(c.rng.duration(0, 30*time.Millisecond)) // spread the creates over the run
	}
}

// checkChildLog fails the test if the service's output shows a data race, a panic or
// any of secrets.
func checkChildLog(t *testing.T, svc *service, secrets map[string]string) {
	t.Helper()
	logs := svc.logs.String()
	for _, bad := range []string{"WARNING: DATA RACE", "panic:", "level=ERROR"} {
		if i := strings.Index(logs, bad); i >= 0 {
			t.Errorf("the service logged %q:\n%s", bad, logs[max(0, i-200):min(len(logs), i+3000)])
		}
	}
	assertNoSecrets(t, "the service's log", logs, secrets)
}
