package poller

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
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
// the queue holds and lets the poller's scan run once, with a clock that never moves
// (so its hourly schedule never fires again): it must keep queuing as the workers
// free room, not stop at one queue's worth until the next tick.
func TestScan_QueuesEveryDueReferenceNotOneQueueFull(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := clock.NewFake(now)
	db, err := store.Open(filepath.Join(t.TempDir(), "trackhook.db"), store.Options{NoSync: true, Clock: clk})
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
		if _, _, err := db.CreateReference(ctx, ref, references.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	src := &countingSource{}
	var recorded atomic.Int64
	all := make(chan struct{})
	p, err := New(db, Options{
		Router: Router{Default: src}, Workers: 2, TickSchedule: "@every 1h",
		Clock: clk, Rand: func() float64 { return 0.5 },
		Observe: func(PollReport) {
			if recorded.Add(1) == n {
				close(all)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Before Start, one tick fills the queue and stops there.
	queued, err := p.Tick(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if queued == 0 || queued >= n {
		t.Fatalf("one tick queued %d: the test needs more due references than the queue holds", queued)
	}
	p.Start(ctx) // its first scan finds the queue full and goes on as the workers free room
	select {
	case <-all:
	case <-time.After(10 * time.Second): // a safety net, not a wait for time
		t.Fatalf("one scan polled %d of %d due references", recorded.Load(), n)
	}
	p.Stop(ctx)
	if got := src.calls.Load(); got != n {
		t.Fatalf("one scan polled %d of %d due references", got, n)
	}
	if due, _ := db.CountDue(ctx); due != 0 {
		t.Fatalf("%d references still due after the scan", due)
	}
}
