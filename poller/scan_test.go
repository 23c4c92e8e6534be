package poller

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

// countingSource answers every fetch with the same snapshot and counts the fetches.
type countingSource struct{ calls atomic.Int64 }

func (s *countingSource) Fetch(context.Context, references.Reference) (*references.Shipment, error) {
	s.calls.Add(1)
	return &references.Shipment{Events: []references.Event{}}, nil
}

// TestScan_QueuesEveryDueReferenceNotOneQueueFull makes far more references due than
// the queue holds and runs one scan: it must keep queuing as the workers free room,
// not stop at one queue's worth until the next tick.
func TestScan_QueuesEveryDueReferenceNotOneQueueFull(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	db, err := store.Open(filepath.Join(t.TempDir(), "trackhook.db"), store.Options{NoSync: true, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const n = 50
	for i := range n {
		next := now
		ref := references.Reference{
			ID: references.NewID("ref_"), AccountID: "acct", BookingNumber: fmt.Sprintf("BK%04d", i), CarrierCode: "MAEU",
			Status: references.StatusActive, CreatedAt: now, UpdatedAt: now, NextPollAt: &next,
		}
		if _, _, err := db.CreateReference(ctx, ref, nil); err != nil {
			t.Fatal(err)
		}
	}
	src := &countingSource{}
	p := New(db, Options{
		Router: Router{Default: src}, Workers: 2, TickSchedule: "@every 1h",
		Now: func() time.Time { return now }, Rand: func() float64 { return 0.5 },
	})
	if cap(p.jobs) >= n {
		t.Fatalf("the queue holds %d: the test needs more references than that", cap(p.jobs))
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	p.scan(ctx) // returns once every due reference is queued or polled
	p.Stop(ctx) // lets the queued polls run
	if got := src.calls.Load(); got != n {
		t.Fatalf("one scan polled %d of %d due references", got, n)
	}
	if due, _ := db.CountDue(ctx, now); due != 0 {
		t.Fatalf("%d references still due after the scan", due)
	}
}
