package reliability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/internal/pgtest"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// multiPlan sizes a multi-instance test run.
type multiPlan struct {
	instances        int
	refs             int           // references, created through random live instances
	kills            int           // SIGKILLs of a random instance, each restarted at once
	lifeMin, lifeMax time.Duration // time between two kills
	dbDown           time.Duration // how long the database stays down in the middle of the run
	lease            string        // --lease
}

// instanceHeader names the instance behind a carrier request: each start of each
// instance sends its own value ("2.3": instance 2, its third start), from its sources
// file, so that the carrier's poll log says which process asked.
const instanceHeader = "X-Trackhook-Instance"

// TestMultiInstance_KillsAndADatabaseRestartLoseNothing runs three `trackhook serve`
// processes on one PostgreSQL database, against a DCSA carrier on loopback (a fake
// whose voyages move two events further on every poll) and loopback receivers: a
// callback on every reference and three account endpoints (standard, flaky batch,
// svix with a filter). References are created through random live instances. Every
// few seconds a random instance is killed with SIGKILL and restarted at once (the
// next kill may hit it during its start); in the middle of the run the PostgreSQL
// server itself is crashed (pg_ctl stop -m immediate) and started again, after every
// instance said it was not ready, and every instance must be ready again by itself.
//
// When every voyage is over: every update reached every destination that selects it,
// verified with the right secret, in order per reference, repeated only under the
// same webhook-id; the account feed is gapless; each reference was created once and
// saw its whole voyage; and the carrier's poll log shows that no reference was ever
// polled by two processes at once.
//
// The test needs a server it may restart: it starts a private one with initdb and
// pg_ctl when they are installed (as the postgres user when run as root). Without
// them it runs on TRACKHOOK_TEST_POSTGRES and leaves out the database restart, saying
// so. Like every PostgreSQL test, it skips without TRACKHOOK_TEST_POSTGRES (and fails
// when CI=true).
func TestMultiInstance_KillsAndADatabaseRestartLoseNothing(t *testing.T) {
	pgtest.ServerURL(t) // skip, or fail in CI, as every PostgreSQL test does
	t.Parallel()
	plan := multiPlan{instances: 3, refs: 24, kills: 10, lifeMin: time.Second, lifeMax: 3 * time.Second, dbDown: 3 * time.Second, lease: "3s"}
	if *soak {
		plan = multiPlan{instances: 3, refs: 90, kills: 40, lifeMin: time.Second, lifeMax: 6 * time.Second, dbDown: 10 * time.Second, lease: "3s"}
	}
	start := time.Now()
	rng := newRand(t)

	var pg *pgtest.Server
	var dbURL, why string
	if pgtest.HasServerPrograms() {
		pg = pgtest.StartServer(t)
		url, _, err := pgtest.CreateDatabase(context.Background(), pg.URL) // dropped with the server
		if err != nil {
			t.Fatal(err)
		}
		dbURL = url
	} else {
		why = "no initdb and pg_ctl to run a server of the test's own"
		dbURL = pgtest.NewDatabase(t)
		t.Logf("the database restart is left out: %s; the instances use a database on TRACKHOOK_TEST_POSTGRES", why)
	}

	voyage := loadVoyage(t)
	carrier := newFakeCarrier(t)
	polls := &pollLog{}
	carrier.set(voyageAnswer(voyage, polls, rng))

	delay := func() time.Duration { return rng.duration(0, 15*time.Millisecond) }
	cb := newReceiver(t)
	cb.setDelay(delay)
	dests := crashDestinations(t, delay)

	const key = "multi-instance-key-0123456789"
	cl := newCluster(t, rng, plan, key, dbURL, carrier.srv.URL)
	cl.startAll()
	first := cl.instances[0]
	accountSecrets := first.webhookSecrets()
	for i, d := range dests {
		d.create(t, cl.instances[i%len(cl.instances)])
	}

	// Creates go to random live instances, on their own goroutine, while kills come.
	cr := &creator{rcv: cb, rng: rng, ids: make([]string, plan.refs), metadata: fanoutMetadata}
	created := make(chan struct{})
	chaosFrom := time.Now()
	var createdIn time.Duration
	go func() { defer close(created); cl.createAll(cr); createdIn = time.Since(chaosFrom) }()

	killsBeforeDB := plan.kills / 2
	var dbRestart string
	for kill := 1; kill <= plan.kills; kill++ {
		time.Sleep(rng.duration(plan.lifeMin, plan.lifeMax))
		cl.killAndRestart(rng.intN(len(cl.instances)))
		if t.Failed() {
			t.FailNow()
		}
		if kill == killsBeforeDB {
			<-created // no create while the database is away: a client would retry a 503
			if pg != nil {
				dbRestart = cl.restartDatabase(pg, plan.dbDown)
			}
		}
	}
	<-created
	cl.awaitAll()
	if t.Failed() {
		t.FailNow()
	}
	chaosOver := time.Now()

	var refs []api.Reference
	eventually(t, 3*time.Minute, "every voyage over and delivered to the callbacks", func() (bool, string) {
		refs = first.references()
		return settled(refs)
	})
	feeds := wireFeeds(first, refs) // final: every reference is unsubscribed
	awaitDestinations(t, first, dests, feeds)
	settledAt := time.Now()
	checkAccountFeed(t, first, domainFeeds(feeds))
	shipments := make(map[string]int, len(refs))
	for _, r := range refs {
		var snap webhook.Shipment
		first.get("/references/"+r.ID+"/shipment", &snap)
		shipments[r.ID] = len(snap.Events)
	}
	for i, svc := range cl.instances {
		if code, took := svc.terminate(30 * time.Second); code != 0 {
			t.Errorf("instance %d: exit code %d after SIGTERM (%v); log:\n%s", i, code, took, svc.tail())
		}
	}

	if len(refs) != plan.refs {
		t.Errorf("the service lists %d references, %d were created", len(refs), plan.refs)
	}
	listed := map[string]bool{}
	byContainer := map[string]string{}
	for _, r := range refs {
		listed[r.ID] = true
		byContainer[r.ContainerID] = r.ID
		if r.UnsubscribeReason != references.ReasonTrackingComplete {
			t.Errorf("%s ended with %q, want tracking_complete", r.ID, r.UnsubscribeReason)
		}
		if shipments[r.ID] != len(voyage) {
			t.Errorf("%s: %d events in its last snapshot, the voyage has %d", r.ID, shipments[r.ID], len(voyage))
		}
	}
	for i, id := range cr.ids {
		if !listed[id] {
			t.Errorf("reference %d (%s) was created but is not listed", i, id)
		}
	}
	pollFigures := polls.check(t, byContainer, len(cl.instances))
	figures := checkCallbackAndDestinations(t, feeds, cb, dests, accountSecrets)
	secrets := map[string]string{
		"API key": key, "API key hash": references.HashAPIKey(key), "account webhook secret": accountSecrets[0], "carrier API key": carrierKey,
	}
	for _, d := range dests {
		secrets[d.name+" endpoint's secret"] = d.secrets[0]
		assertNoSecrets(t, "GET /endpoints and GET /endpoints/"+d.id, d.listed, secrets)
	}
	errorLines := cl.checkLogs(secrets)
	if dbRestart == "" {
		dbRestart = "no database restart (" + why + ")"
	}
	t.Logf("multi-instance: %d instances, %d kills survived (%s), %s; %d creates replayed by Idempotency-Key; %s; %s; %d ERROR lines in the instances' logs; build %v, kills %v (the creates done after %v, each in %v at the median, %v at the slowest), then every delivery done in %v; run %v",
		len(cl.instances), plan.kills, cl.killFigures(), dbRestart, cr.replayed, pollFigures, strings.Join(figures, "; "),
		errorLines, build.took.Round(time.Millisecond), chaosOver.Sub(chaosFrom).Round(time.Millisecond), createdIn.Round(time.Millisecond),
		percentile(cl.createTimes, 50).Round(time.Millisecond), percentile(cl.createTimes, 100).Round(time.Millisecond),
		settledAt.Sub(chaosOver).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// cluster is the test's trackhook instances on one database. Each has a lock: the
// creator holds it shared while it uses the instance, the test exclusively while it
// launches the instance (which changes its address). A kill takes no lock, so that
// it may come in the middle of a create.
type cluster struct {
	t         *testing.T
	rng       *lockedRand
	carrier   string // the DCSA carrier's base URL
	sources   []string
	instances []*service
	locks     []sync.RWMutex
	kills     []int           // per instance
	ready     []chan struct{} // per instance: closed once its running process answered /readyz 200
	early     int             // kills of a process that was not ready yet

	createTimes []time.Duration // of each successful create, written by createAll alone

	mu       sync.Mutex
	restarts []time.Duration // from a kill to the new process's readiness
}

func newCluster(t *testing.T, rng *lockedRand, plan multiPlan, key, dbURL, carrierURL string) *cluster {
	t.Helper()
	cl := &cluster{
		t: t, rng: rng, carrier: carrierURL,
		locks: make([]sync.RWMutex, plan.instances), kills: make([]int, plan.instances), ready: make([]chan struct{}, plan.instances),
	}
	dir := t.TempDir()
	for i := range plan.instances {
		sources := filepath.Join(dir, fmt.Sprintf("sources-%d.yaml", i))
		svc := newService(t, key, "--sources", sources, "--lease", plan.lease,
			"--poll-interval", "1s", "--min-poll-interval", "1s", "--delivery-timeout", "1s",
			"--allow-insecure-callbacks", "--allow-private-callbacks")
		svc.dbPath = dbURL
		cl.sources = append(cl.sources, sources)
		cl.instances = append(cl.instances, svc)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, svc := range cl.instances {
				t.Logf("the end of instance %d's log:\n%s", i, svc.tail())
			}
		}
	})
	return cl
}

// writeSources writes the sources file of instance i's next start: the carrier MSCU
// on the fake DCSA carrier, with the instance's name in a header (instanceHeader).
// The file is JSON, which a YAML reader takes as it is.
func (cl *cluster) writeSources(i int) {
	cl.t.Helper()
	name := fmt.Sprintf("%d.%d", i, cl.instances[i].starts+1)
	file := map[string]any{
		"default": "none",
		"carriers": map[string]any{
			"MSCU": map[string]any{
				"type":     "dcsa",
				"base_url": cl.carrier,
				"timeout":  "5s",
				"auth":     map[string]any{"headers": map[string]string{"X-Api-Key": carrierKey, instanceHeader: name}},
			},
		},
	}
	b, err := json.Marshal(file)
	if err != nil {
		cl.t.Fatal(err)
	}
	if err := os.WriteFile(cl.sources[i], b, 0o600); err != nil {
		cl.t.Fatal(err)
	}
}

// startAll launches every instance at once, so that their migrations and key
// bootstraps race as they would in a deployment, then waits until all are ready.
func (cl *cluster) startAll() {
	cl.t.Helper()
	for i := range cl.instances {
		cl.launch(i, time.Time{})
	}
	cl.awaitAll()
}

// launch starts a new process of instance i without waiting for it; a goroutine
// watches it and, once it answers /readyz with 200, closes ready[i] and records how
// long it took since killed (unless zero).
func (cl *cluster) launch(i int, killed time.Time) {
	cl.t.Helper()
	svc := cl.instances[i]
	cl.writeSources(i)
	svc.launch()
	ready := make(chan struct{})
	cl.ready[i] = ready
	base, exited := svc.base, svc.exited
	go func() {
		for {
			select {
			case <-exited:
				return
			default:
			}
			if resp, err := svc.client.Get(base + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					if !killed.IsZero() {
						cl.mu.Lock()
						cl.restarts = append(cl.restarts, time.Since(killed))
						cl.mu.Unlock()
					}
					close(ready)
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
}

// awaitAll waits until every instance is ready; it fails the test if one has
// exited, or is not ready within 30 s.
func (cl *cluster) awaitAll() {
	cl.t.Helper()
	for _, svc := range cl.instances {
		svc.awaitReady()
	}
}

// killAndRestart kills instance i with SIGKILL and launches it again at once,
// without waiting for it to be ready: the next kill may come during its start. It
// fails the test if the instance's process had exited by itself.
func (cl *cluster) killAndRestart(i int) {
	cl.t.Helper()
	svc := cl.instances[i]
	if !svc.running() {
		cl.t.Fatalf("instance %d exited by itself (start %d: %v); log:\n%s", i, svc.starts, svc.cmd.ProcessState, svc.tail())
	}
	select {
	case <-cl.ready[i]:
	default:
		cl.early++
	}
	killed := time.Now()
	svc.kill()
	cl.kills[i]++
	cl.locks[i].Lock()
	defer cl.locks[i].Unlock()
	cl.launch(i, killed)
}

// restartDatabase crashes the PostgreSQL server, waits until every instance says it
// is not ready, keeps the server down for down in all, starts it again and waits
// until every instance is ready again. It returns what happened, for the figures.
func (cl *cluster) restartDatabase(pg *pgtest.Server, down time.Duration) string {
	cl.t.Helper()
	cl.awaitAll() // so that each instance's readiness says something of the database
	stopped := time.Now()
	if err := pg.Crash(); err != nil {
		cl.t.Fatalf("crash the database: %v\n%s", err, pg.Log())
	}
	for i, svc := range cl.instances {
		eventually(cl.t, 15*time.Second, fmt.Sprintf("instance %d not ready while the database is down", i), func() (bool, string) {
			status := readyz(svc)
			return status != http.StatusOK, fmt.Sprintf("/readyz answers %d", status)
		})
	}
	notReady := time.Since(stopped)
	time.Sleep(down - notReady)
	if err := pg.Start(); err != nil {
		cl.t.Fatalf("start the database again: %v\n%s", err, pg.Log())
	}
	restarted := time.Now()
	for i, svc := range cl.instances {
		eventually(cl.t, 30*time.Second, fmt.Sprintf("instance %d ready again once the database is back", i), func() (bool, string) {
			status := readyz(svc)
			return status == http.StatusOK, fmt.Sprintf("/readyz answers %d", status)
		})
	}
	return fmt.Sprintf("the database crashed and down for %v (every instance not ready within %v), every instance ready again %v after it came back",
		max(down, notReady).Round(time.Millisecond), notReady.Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
}

// readyz returns the status of the instance's /readyz, 0 when it does not answer.
func readyz(svc *service) int {
	resp, err := svc.client.Get(svc.base + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// createAll creates every planned reference, each through a random live instance; a
// create cut short by a kill is tried again, on whichever instance is picked next,
// under the same Idempotency-Key. It gives up when the test has failed.
func (cl *cluster) createAll(cr *creator) {
	for cr.next < len(cr.ids) && !cl.t.Failed() {
		i := cl.rng.intN(len(cl.instances))
		cl.locks[i].RLock()
		before, began := cr.next, time.Now()
		if cl.instances[i].running() {
			cr.svc = cl.instances[i]
			cr.createUpTo(cr.next + 1)
		}
		cl.locks[i].RUnlock()
		if cr.next > before {
			cl.createTimes = append(cl.createTimes, time.Since(began))
			time.Sleep(cr.rng.duration(50*time.Millisecond, 250*time.Millisecond)) // spread the creates over the first kills
		} else {
			time.Sleep(10 * time.Millisecond) // killed, or starting: another instance, or this one later
		}
	}
}

// killFigures says how many kills each instance took, and how long restarts took.
func (cl *cluster) killFigures() string {
	parts := make([]string, len(cl.kills))
	for i, n := range cl.kills {
		parts[i] = fmt.Sprintf("instance %d: %d", i, n)
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return fmt.Sprintf("%s; %d of them during a start; from a kill to ready again: median %v, slowest %v", strings.Join(parts, ", "), cl.early,
		percentile(cl.restarts, 50).Round(time.Millisecond), percentile(cl.restarts, 100).Round(time.Millisecond))
}

// checkLogs fails the test if an instance's output shows a data race, a panic or any
// of secrets. ERROR lines are expected (the database went away; outcomes of a killed
// instance's leases are refused): it returns how many there were.
func (cl *cluster) checkLogs(secrets map[string]string) int {
	cl.t.Helper()
	errorLines := 0
	for i, svc := range cl.instances {
		logs := svc.logs.String()
		for _, bad := range []string{"WARNING: DATA RACE", "panic:"} {
			if j := strings.Index(logs, bad); j >= 0 {
				cl.t.Errorf("instance %d logged %q:\n%s", i, bad, logs[max(0, j-200):min(len(logs), j+3000)])
			}
		}
		errorLines += strings.Count(logs, "level=ERROR")
		assertNoSecrets(cl.t, fmt.Sprintf("the log of instance %d", i), logs, secrets)
	}
	return errorLines
}

// loadVoyage returns the events of one container's voyage, from a gate-out of the
// empty container to its empty return (which ends tracking): the events of
// MSKU7261948 in testdata/dcsa/bl_three_containers.json and those that name no
// container, in the fixture's order, which is the order of time.
func loadVoyage(t *testing.T) []json.RawMessage {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "dcsa", "bl_three_containers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all []json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	var voyage []json.RawMessage
	for _, ev := range all {
		var head struct {
			EquipmentReference string `json:"equipmentReference"`
		}
		if err := json.Unmarshal(ev, &head); err != nil {
			t.Fatal(err)
		}
		if head.EquipmentReference == "" || head.EquipmentReference == voyageContainer {
			voyage = append(voyage, ev)
		}
	}
	if len(voyage) < 5 {
		t.Fatalf("the voyage of %s in the fixture has %d events", voyageContainer, len(voyage))
	}
	return voyage
}

// voyageContainer is the container of the voyage's fixture, replaced in the answers
// by the container asked for.
const voyageContainer = "MSKU7261948"

// voyageStep is how many more events of its voyage a container shows on each poll:
// the voyage ends in 6 polls.
const voyageStep = 2

// voyageAnswer serves each container's voyage voyageStep events further on every
// request answered: the first request gets the first events, the n-th n times as
// many, the last ones the whole voyage, whose empty return ends tracking. Each answer waits a little
// (so that two polls of one reference at once would overlap visibly) and is recorded
// in the poll log, with the instance that asked.
func voyageAnswer(voyage []json.RawMessage, log *pollLog, rng *lockedRand) http.HandlerFunc {
	var mu sync.Mutex
	answered := map[string]int{} // container -> requests answered
	return func(w http.ResponseWriter, r *http.Request) {
		rec := pollRecord{
			container: r.URL.Query().Get("equipmentReference"),
			instance:  r.Header.Get(instanceHeader),
			arrived:   time.Now(),
		}
		defer func() { rec.done = time.Now(); log.add(rec) }()

		timer := time.NewTimer(rng.duration(10*time.Millisecond, 60*time.Millisecond))
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			return // the instance was killed, or gave up
		}
		mu.Lock()
		n := min((answered[rec.container]+1)*voyageStep, len(voyage))
		answered[rec.container]++
		mu.Unlock()
		body, err := json.Marshal(voyage[:n])
		if err != nil {
			panic(err)
		}
		w.Header().Set("Content-Type", "application/json")
		_, err = w.Write(bytes.ReplaceAll(body, []byte(voyageContainer), []byte(rec.container)))
		rec.answered = err == nil
	}
}

// pollRecord is one request of the poll log: which container, which instance (the
// instanceHeader: instance.start), when it arrived and when its answer was finished
// (or abandoned).
type pollRecord struct {
	container     string
	instance      string
	arrived, done time.Time
	answered      bool
}

// pollLog is the carrier's record of every poll.
type pollLog struct {
	mu   sync.Mutex
	list []pollRecord
}

func (l *pollLog) add(r pollRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, r)
}

// check fails the test for every two polls of one container whose times overlap (from
// the request's arrival to the end of its answer): a reference is polled by one
// process at a time. Both polls are named, with their instances. It also checks that
// every request named its instance and that the work was spread: every instance
// polled. It returns the figures.
func (l *pollLog) check(t *testing.T, refOf map[string]string, instances int) string {
	t.Helper()
	l.mu.Lock()
	list := slices.Clone(l.list)
	l.mu.Unlock()

	byContainer := map[string][]pollRecord{}
	perInstance := map[string]int{} // instance (without its start) -> polls
	abandoned := 0
	for _, r := range list {
		byContainer[r.container] = append(byContainer[r.container], r)
		slot, _, _ := strings.Cut(r.instance, ".")
		perInstance[slot]++
		if !r.answered {
			abandoned++
		}
		if r.instance == "" {
			t.Errorf("a poll of %s without the %s header", r.container, instanceHeader)
		}
	}
	containers := make([]string, 0, len(byContainer))
	for c := range byContainer {
		containers = append(containers, c)
	}
	sort.Strings(containers)
	overlaps, crossInstance := 0, 0
	for _, c := range containers {
		rs := byContainer[c]
		sort.Slice(rs, func(i, j int) bool { return rs[i].arrived.Before(rs[j].arrived) })
		latest := rs[0] // of the polls so far, the one that ended last
		for _, r := range rs[1:] {
			if r.arrived.Before(latest.done) {
				overlaps++
				if r.instance != latest.instance {
					crossInstance++
				}
				if overlaps <= 20 {
					t.Errorf("%s (reference %s) polled by two processes at once: instance %s from %s to %s (answered: %v), instance %s from %s (%v later) to %s",
						c, refOf[c], latest.instance, latest.arrived.Format("15:04:05.000"), latest.done.Format("15:04:05.000"), latest.answered,
						r.instance, r.arrived.Format("15:04:05.000"), r.arrived.Sub(latest.arrived).Round(time.Millisecond), r.done.Format("15:04:05.000"))
				}
			}
			if r.done.After(latest.done) {
				latest = r
			}
		}
	}
	if overlaps > 20 {
		t.Errorf("... %d overlapping polls in all, %d of them by two instances", overlaps, crossInstance)
	}
	for _, c := range containers {
		if refOf[c] == "" {
			t.Errorf("the carrier was asked about %s, which is no reference's container", c)
		}
	}
	slots := slices.Sorted(maps.Keys(perInstance))
	parts := make([]string, len(slots))
	for i, s := range slots {
		parts[i] = fmt.Sprintf("instance %s: %d", s, perInstance[s])
	}
	if len(perInstance) < instances {
		t.Errorf("polls by instance: %s; every instance should have polled", strings.Join(parts, ", "))
	}
	return fmt.Sprintf("%d polls of %d references, %d overlapping (%s; %d abandoned by a killed instance)",
		len(list), len(containers), overlaps, strings.Join(parts, ", "), abandoned)
}
