package notifier_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
	"github.com/trackhook/trackhook/webhook"
)

// benchReceiver is a loopback webhook receiver that reads and decodes every body, as a
// receiver does, and counts what it accepted.
type benchReceiver struct {
	*httptest.Server
	got atomic.Int64

	want atomic.Int64 // done is closed when got gets here
	mu   sync.Mutex
	done chan struct{} // closed when got reaches want
}

// reach returns a channel closed when the receiver has accepted n requests in all.
func (r *benchReceiver) reach(n int64) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	done := make(chan struct{})
	r.want.Store(n)
	if r.got.Load() >= n {
		close(done)
		return done
	}
	r.done = done
	return done
}

func newBenchReceiver(b *testing.B) *benchReceiver {
	r := &benchReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		var p struct {
			Data struct {
				ID       string `json:"id"`
				Sequence uint64 `json:"sequence"`
			} `json:"data"`
		}
		if err == nil {
			err = json.Unmarshal(body, &p)
		}
		if err != nil || p.Data.ID == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if got := r.got.Add(1); got >= r.want.Load() {
			r.mu.Lock()
			if r.done != nil && got >= r.want.Load() {
				close(r.done)
				r.done = nil
			}
			r.mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(r.Close)
	return r
}

// benchSnapshot is a voyage of 15 events half way through, as the poller stores it.
func benchSnapshot(b *testing.B) *references.Shipment {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "diff", "full_voyage", "05.json"))
	if err != nil {
		b.Fatal(err)
	}
	var wire webhook.Shipment
	if err := json.Unmarshal(data, &wire); err != nil {
		b.Fatal(err)
	}
	s := wire.Domain()
	s.Status = references.ShipmentInTransit
	return s
}

// benchRefs is how many references share the deliveries: more than the workers, so
// that the per-reference order does not limit the run.
const benchRefs = 500

// benchProfile, when set, is where BenchmarkDeliveries writes CPU profiles of its
// delivery windows alone, one file per receiver count (go test's -cpuprofile also
// covers the set-up and the raw loop).
var benchProfile = flag.String("deliveries.cpuprofile", "", "write a CPU profile of BenchmarkDeliveries' delivery windows to this file")

// BenchmarkDeliveries measures webhooks delivered end to end to receivers on loopback,
// each read from the outbox, signed, POSTed and its attempt durably recorded (fsync
// on), against a raw net/http POST loop of the same payloads to the same receivers
// with as many goroutines and the same connection limits. It reports both rates, their
// ratio and the CPU time of each per POST; ns/op is trackhook's.
//
// receivers=1 sends every webhook to one receiver; receivers=100 spreads the
// references over 100 receivers, each on a port of its own: 100 hosts to the notifier,
// each with its own breaker and per-host cap.
func BenchmarkDeliveries(b *testing.B) {
	for _, receivers := range []int{1, 100} {
		b.Run(fmt.Sprintf("receivers=%d", receivers), func(b *testing.B) { benchDeliveries(b, receivers) })
	}
}

func benchDeliveries(b *testing.B, receivers int) {
	ctx := context.Background()
	rcvs := make([]*benchReceiver, receivers)
	for i := range rcvs {
		rcvs[i] = newBenchReceiver(b)
	}
	const workers = 32
	path := filepath.Join(b.TempDir(), "bench.db")

	// b.N updates in the feeds of benchRefs references, appended without fsync.
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.EnsureAccount(ctx, "acct", references.NewWebhookSecret(), time.Now()); err != nil {
		b.Fatal(err)
	}
	snap := benchSnapshot(b)
	var bodies [][]byte
	now := time.Now().UTC()
	for i := range benchRefs {
		ref, _, err := db.CreateReference(ctx, references.Reference{
			ID: references.NewID("ref_"), AccountID: "acct", ContainerID: fmt.Sprintf("BNCU%07d", i),
			CarrierCode: "DEMO", CallbackURL: rcvs[i%receivers].URL + "/hooks", Status: references.StatusActive,
			CreatedAt: now, UpdatedAt: now, NextPollAt: &now,
		}, references.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n := b.N/benchRefs + 1
		res := references.PollResult{PolledAt: now, NextPollAt: now.Add(time.Hour), Shipment: snap}
		for range n {
			res.Updates = append(res.Updates, references.Update{
				Type: references.UpdateShipment, CreatedAt: now, Shipment: snap,
				Changes: []references.Change{{Type: references.ChangeETAChanged, Description: "ETA moved by 5h", Old: "2026-04-02T06:00:00Z", New: "2026-04-02T11:00:00Z"}},
			})
		}
		poll, err := db.ClaimPoll(ctx, "bench", ref.ID, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.RecordPoll(ctx, poll.Lease, res); err != nil {
			b.Fatal(err)
		}
		if i < 16 {
			claim, err := db.ClaimDelivery(ctx, "bench", ref.ID, time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			if err := db.ReleaseLease(ctx, claim.Lease); err != nil {
				b.Fatal(err)
			}
			body, err := webhook.Encode(claim.Job.Update)
			if err != nil {
				b.Fatal(err)
			}
			bodies = append(bodies, body)
		}
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if db, err = store.Open(path, store.Options{}); err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	urls := make([]string, receivers)
	for i, r := range rcvs {
		urls[i] = r.URL + "/baseline"
	}

	b.ResetTimer()
	cpu0, mem0 := cpuTime(), allocs()
	baseline := rawPosts(b, urls, bodies, workers, b.N)
	cpu1, mem1 := cpuTime(), allocs()

	// Each receiver gets its references' share of b.N.
	dones := make([]<-chan struct{}, receivers)
	for i, r := range rcvs {
		share := 0
		for ref := i; ref < benchRefs; ref += receivers {
			share += b.N / benchRefs
			if ref < b.N%benchRefs {
				share++
			}
		}
		dones[i] = r.reach(r.got.Load() + int64(share))
	}
	n := notifier.New(db, notifier.NewSender(notifier.SenderOptions{AllowPrivate: true}), notifier.Options{Workers: workers})
	stats0, err := db.Stats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	stopProfile := startBenchProfile(b, receivers)
	start := time.Now()
	cpu2, mem2 := cpuTime(), allocs()
	n.Start(ctx)
	for _, done := range dones {
		<-done
	}
	took := time.Since(start)
	cpu3, mem3 := cpuTime(), allocs()
	b.StopTimer()
	stopProfile()
	n.Stop(ctx)
	stats1, err := db.Stats(ctx)
	if err != nil {
		b.Fatal(err)
	}

	rate := float64(b.N) / took.Seconds()
	b.ReportMetric(float64(took.Nanoseconds())/float64(b.N), "ns/op")
	b.ReportMetric(rate, "deliveries/s")
	b.ReportMetric(baseline, "baseline/s")
	b.ReportMetric(rate/baseline, "ratio")
	b.ReportMetric(float64((cpu3-cpu2).Microseconds())/float64(b.N), "cpu-µs/delivery")
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-µs/baseline")
	b.ReportMetric(float64(b.N)/float64(max(stats1.Commits-stats0.Commits, 1)), "deliveries/commit")
	// Allocations vary far less than CPU time on a shared machine: a steadier figure
	// to compare two versions by.
	b.ReportMetric(float64(mem3-mem2)/float64(b.N), "allocs/delivery")
	b.ReportMetric(float64(mem1-mem0)/float64(b.N), "allocs/baseline")
}

// startBenchProfile starts the CPU profile of a delivery window when
// -deliveries.cpuprofile is set, in that path with ".receivers" added, and returns
// what stops it.
func startBenchProfile(b *testing.B, receivers int) (stop func()) {
	if *benchProfile == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s.%d", *benchProfile, receivers))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// allocs is how many heap objects the process has allocated.
func allocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// rawPosts POSTs n bodies to urls in turn from workers goroutines through a client
// with the notifier's connection limits and returns the rate of 2xx answers.
func rawPosts(b *testing.B, urls []string, bodies [][]byte, workers, n int) float64 {
	tr := &http.Transport{MaxConnsPerHost: notifier.DefaultMaxConnsPerHost, MaxIdleConnsPerHost: notifier.DefaultMaxIdleConnsPerHost}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: notifier.DefaultSendTimeout}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				resp, err := client.Post(urls[int(i)%len(urls)], "application/json", bytes.NewReader(bodies[int(i)%len(bodies)]))
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("baseline POST: %s", resp.Status)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}
