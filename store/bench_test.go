package store

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// benchRefs is the size of the store the benchmarks run on. The figures in
// BENCHMARKS.md use the default; -bench.refs=1000000 measures a large store.
var benchRefs = flag.Int("bench.refs", 20_000, "references in the store the benchmarks use")

// benchShipment is a realistic snapshot: the 15 events of a transshipped voyage half
// way through, as a source reports them (about 6 KB of JSON).
func benchShipment(b testing.TB) *references.Shipment {
	b.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "diff", "full_voyage", "05.json"))
	if err != nil {
		b.Fatal(err)
	}
	var rec shipmentRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		b.Fatal(err)
	}
	s := rec.shipment()
	s.Status = references.ShipmentInTransit
	return s
}

// benchNow is when the references of a benchmark's store are due, and the time the
// benchmarks record their polls and attempts at.
var benchNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// benchOwner owns the claims the benchmarks make.
const benchOwner = "bench"

// benchStore opens a store with n active references with a callback, all due at
// benchNow, on a fake clock that reads an hour earlier (so that none is due until the
// benchmark moves it) and never moves by itself: the claims' leases do not run out.
// Seeding runs without fsync; the benchmark itself runs with fsync on, as production
// does, unless noSync.
func benchStore(b *testing.B, n int, noSync bool) (*DB, []string, *clock.Fake) {
	b.Helper()
	ctx := context.Background()
	now := benchNow
	clk := clock.NewFake(now.Add(-time.Hour))
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{NoSync: true, Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	if _, err := db.EnsureAccount(ctx, "a", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", now); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		ref := withCallback(newRef("a", fmt.Sprintf("BNCH%07d", i), now), "https://example.com/hook")
		ids[i] = mustCreate(b, db, ref).ID
	}
	db.bolt.NoSync = noSync
	if d := os.Getenv("XDELAY"); d != "" {
		db.bolt.MaxBatchDelay, _ = time.ParseDuration(d)
	}
	return db, ids, clk
}

// benchRecordPoll claims id's poll and records res under the claim, as the poller
// does. busy is true when another caller holds the claim (the benchmark's callers
// went round all the references).
func benchRecordPoll(ctx context.Context, db *DB, id string, res references.PollResult) (busy bool, err error) {
	claim, err := db.ClaimPoll(ctx, benchOwner, id, time.Minute)
	if errors.Is(err, references.ErrBusy) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	_, err = db.RecordPoll(ctx, claim.Lease, res)
	return false, err
}

// changedPoll is what the poller records for a poll that found one change: the new
// snapshot and one update carrying it.
func changedPoll(s *references.Shipment, now time.Time) references.PollResult {
	return references.PollResult{
		PolledAt: now, NextPollAt: now.Add(time.Hour), Shipment: s,
		Updates: []references.Update{{
			Type: references.UpdateShipment, CreatedAt: now, Shipment: s,
			Changes: []references.Change{
				{Type: references.ChangeEstimateChanged, Description: "Estimated arrival at Rotterdam moved by 5h", Old: "2026-04-02T06:00:00Z", New: "2026-04-02T11:00:00Z", Event: &s.Events[0]},
				{Type: references.ChangeETAChanged, Description: "ETA moved by 5h", Old: "2026-04-02T06:00:00Z", New: "2026-04-02T11:00:00Z"},
			},
		}},
	}
}

// BenchmarkRecordPoll measures persisting one poll, with many concurrent callers as
// the poller's workers are: "changed" writes a snapshot and appends an update that
// carries it (and queues its delivery); "feed_append" appends the update only;
// "unchanged" records a poll that found nothing new; "changed_10_endpoints" is
// "changed" in an account with 10 endpoints that all take the update (a message,
// its place in the stream, and the stream in the outbox, for each). Each poll is
// claimed first (ClaimPoll: a lease in memory and one read), as the poller claims
// its work.
func BenchmarkRecordPoll(b *testing.B) {
	s := benchShipment(b)
	changed := func(now time.Time) references.PollResult { return changedPoll(s, now) }
	cases := []struct {
		name      string
		endpoints int // of the account, added before the case runs
		res       func(now time.Time) references.PollResult
	}{
		{"changed", 0, changed},
		{"feed_append", 0, func(now time.Time) references.PollResult {
			r := changedPoll(s, now)
			r.Shipment = nil
			return r
		}},
		{"unchanged", 0, func(now time.Time) references.PollResult {
			return references.PollResult{PolledAt: now, NextPollAt: now.Add(time.Hour)}
		}},
		{"changed_10_endpoints", 10, changed},
	}
	// One store for all cases and runs: seeding is slow, and a store that has been
	// written to for a while is the realistic one.
	db, ids, _ := benchStore(b, *benchRefs, false)
	now := benchNow
	var next atomic.Int64
	endpoints := 0
	for _, tc := range cases {
		for ; endpoints < tc.endpoints; endpoints++ {
			addEndpoint(b, db, nil)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.SetParallelism(16) // 16 callers per core, like the poller's default 16 workers or more
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					i := next.Add(1)
					id := ids[int(i)%len(ids)]
					at := now.Add(time.Duration(i) * time.Millisecond)
					if _, err := benchRecordPoll(ctx, db, id, tc.res(at)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "polls/s")
		})
	}
}

// BenchmarkClaimDuePolls measures the poller's due scan and claim on a store of
// -bench.refs references: "none_due" when none is due, "due" when all of them are (the
// claim leases a full batch, which is then released, so that every round claims the
// same most overdue references again).
func BenchmarkClaimDuePolls(b *testing.B) {
	db, _, clk := benchStore(b, *benchRefs, true)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		at   time.Time
		want int
	}{
		{"none_due", clk.Now(), 0}, // the store's clock reads an hour before benchNow
		{"due", benchNow, 100},
	} {
		clk.Set(tc.at)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				claims, err := db.ClaimDuePolls(ctx, benchOwner, 100, time.Minute)
				if err != nil || len(claims) != tc.want {
					b.Fatalf("got %d claims, %v", len(claims), err)
				}
				for _, c := range claims {
					if err := db.ReleaseLease(ctx, c.Lease); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// deliveryBatch is how many updates a reference gets at a time in BenchmarkDelivery.
const deliveryBatch = 10

// BenchmarkDelivery measures the store's part of one delivery, with concurrent
// callers as the notifier's workers are: ClaimDelivery (a lease and the next job),
// then RecordAttempt of a success, which is durable before it returns, then
// ReleaseLease. Each reference's feed is refilled with deliveryBatch updates when it
// runs dry (b.N is not known in advance); that append is inside the timing, about one
// call in deliveryBatch.
func BenchmarkDelivery(b *testing.B) {
	db, ids, _ := benchStore(b, min(*benchRefs, 2_000), true)
	now := benchNow
	ctx := context.Background()
	s := benchShipment(b)
	fill := func(id string) error {
		res := changedPoll(s, now)
		for len(res.Updates) < deliveryBatch {
			res.Updates = append(res.Updates, res.Updates[0])
		}
		for {
			busy, err := benchRecordPoll(ctx, db, id, res)
			if !busy {
				return err
			}
		}
	}
	for _, id := range ids {
		if err := fill(id); err != nil {
			b.Fatal(err)
		}
	}
	db.bolt.NoSync = false
	var next atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := ids[int(next.Add(1))%len(ids)]
			c, err := db.ClaimDelivery(ctx, benchOwner, id, time.Minute)
			if errors.Is(err, references.ErrNothingToDeliver) {
				if err = fill(id); err == nil {
					c, err = db.ClaimDelivery(ctx, benchOwner, id, time.Minute)
				}
			}
			if errors.Is(err, references.ErrBusy) {
				continue // another caller has this reference's stream
			}
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := db.RecordAttempt(ctx, c.Lease, c.Job, attempt(c.Job, references.OutcomeDelivered, now), ""); err != nil {
				b.Error(err)
				return
			}
			if err := db.ReleaseLease(ctx, c.Lease); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
}

// BenchmarkCreateReference measures creating references from many concurrent
// callers, as a burst of POST /references does, with fsync on.
func BenchmarkCreateReference(b *testing.B) {
	db, _, _ := benchStore(b, 0, false)
	now := benchNow
	var next atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ref := withCallback(newRef("a", fmt.Sprintf("CRTU%07d", next.Add(1)), now), "https://example.com/hook")
			if _, _, err := db.CreateReference(context.Background(), ref, references.CreateOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "creates/s")
}

// BenchmarkCodec compares the stored forms of the hot values: JSON, which the store
// wrote before, and the binary form (codec.go), encoding and decoding a 15-event
// snapshot, an update carrying it, and a reference.
func BenchmarkCodec(b *testing.B) {
	s := benchShipment(b)
	u := changedPoll(s, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)).Updates[0]
	u.ID, u.ReferenceID, u.Sequence = "upd_2KWPBgLlAfxdpx2AI54pPJ85f4W", "ref_XR3JY2KQZWBM6T4H5DGE7NCA7Q", 7
	u.Reference = references.ReferenceSummary{ID: u.ReferenceID, ContainerID: "MSCU1234566", CarrierCode: "MAEU", Metadata: map[string]string{"po": "4711"}}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ref := withCallback(newRef("a", "MSCU1234566", now), "https://example.com/hook")
	ref.LastPolledAt, ref.LastSequence, ref.Metadata = &now, 7, map[string]string{"po": "4711"}
	values := []struct {
		name   string
		v      any
		binary func() []byte
		decode func([]byte) error
	}{
		{"shipment", newShipmentRecord(s), func() []byte { return encodeShipment(s) }, func(d []byte) error { var v references.Shipment; return decodeShipment(d, &v) }},
		{"update", newUpdateRecord(&u), func() []byte { return encodeUpdate(&u) }, func(d []byte) error { var v references.Update; return decodeUpdate(d, &v) }},
		{"reference", newReferenceRecord(&ref), func() []byte { return encodeReference(&ref) }, func(d []byte) error { var v references.Reference; return decodeReference(d, &v) }},
	}
	for _, v := range values {
		js, err := json.Marshal(v.v)
		if err != nil {
			b.Fatal(err)
		}
		bin := v.binary()
		b.Run(v.name+"/json_encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.Marshal(v.v); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(js)), "bytes")
		})
		b.Run(v.name+"/json_decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := v.decode(js); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(v.name+"/binary_encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v.binary()
			}
			b.ReportMetric(float64(len(bin)), "bytes")
		})
		b.Run(v.name+"/binary_decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := v.decode(bin); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
