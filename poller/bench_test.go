package poller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
	"github.com/trackhook/trackhook/webhook"
)

// flipSource answers with one of two snapshots of a voyage half way through (15
// events), which differ in one estimated arrival. The first poll gets a; after that
// the snapshot stored is a when the feed has an odd number of updates, b when even.
// With flip every poll gets the other one and finds a change (an estimate and the
// ETA moved); without, every poll gets the one stored and finds none.
type flipSource struct {
	a, b *references.Shipment
	flip bool
}

func (s *flipSource) Fetch(_ context.Context, ref references.Reference) (*references.Shipment, error) {
	storedA := ref.LastSequence%2 == 1
	if ref.LastSequence == 0 || storedA != s.flip {
		return s.a, nil
	}
	return s.b, nil
}

func newFlipSource(b *testing.B) *flipSource {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "diff", "full_voyage", "05.json"))
	if err != nil {
		b.Fatal(err)
	}
	var wire webhook.Shipment
	if err := json.Unmarshal(data, &wire); err != nil {
		b.Fatal(err)
	}
	a := *wire.Domain()
	moved := a
	moved.Events = slices.Clone(a.Events)
	for i, e := range moved.Events {
		if e.Code == references.CodeArrival && e.Classifier != references.ClassifierActual {
			moved.Events[i].Time = e.Time.Add(5 * time.Hour)
		}
	}
	return &flipSource{a: &a, b: &moved}
}

// BenchmarkPollOne measures one poll of a reference end to end in the poller: read
// the reference and its stored snapshot, fetch, derive, diff, and persist with fsync
// (snapshot, update, outbox entry and schedule in one transaction), from 16 concurrent
// pollers per core as the poller's workers are. "changed" finds a change at every
// poll; "unchanged" finds none, and writes nothing.
func BenchmarkPollOne(b *testing.B) {
	ctx := context.Background()
	src := newFlipSource(b)
	path := filepath.Join(b.TempDir(), "bench.db")
	db, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	const parallelism = 16
	goroutines := parallelism * runtime.GOMAXPROCS(0)
	refs := 64 * goroutines // 64 each, so that each has its own
	ids := make([]string, refs)
	for i := range ids {
		ref, _, err := db.CreateReference(ctx, references.Reference{
			ID: references.NewID("ref_"), AccountID: "acct", BookingNumber: fmt.Sprintf("BK%06d", i),
			CarrierCode: "DEMO", CallbackURL: "https://example.com/hooks", Status: references.StatusActive,
			CreatedAt: now, UpdatedAt: now, NextPollAt: &now,
		}, references.CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = ref.ID
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if db, err = store.Open(path, store.Options{}); err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	p, err := poller.New(db, poller.Options{Router: poller.Router{Default: src}})
	if err != nil {
		b.Fatal(err)
	}
	// Every reference gets its first snapshot before the runs.
	for _, id := range ids {
		if err := p.PollOne(ctx, id); err != nil {
			b.Fatal(err)
		}
	}

	for _, tc := range []struct {
		name string
		flip bool
	}{{"changed", true}, {"unchanged", false}} {
		b.Run(tc.name, func(b *testing.B) {
			src.flip = tc.flip
			var started atomic.Int64
			b.SetParallelism(parallelism)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				// Each goroutine polls its own references: one poll per reference at a
				// time, as the store's leases guarantee (a second claim is ErrBusy).
				g := int(started.Add(1) - 1)
				for i := g; pb.Next(); i += goroutines {
					if err := p.PollOne(ctx, ids[i%refs]); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "polls/s")
		})
	}
}
