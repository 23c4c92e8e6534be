package autosize

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// liveHeap is the runtime metric Tune reads: the heap that survived the last
// collection.
const liveHeap = "/gc/heap/live:bytes"

// Tune keeps GOGC at PercentFor(gc, live heap) until ctx ends, checking every
// interval: a live heap measured once would not follow the references as they are
// added. It sets nothing when gc has no Headroom. The GOGC it finds when it starts
// is the one it leaves when it returns.
func Tune(ctx context.Context, gc GC, every time.Duration) {
	sample := []metrics.Sample{{Name: liveHeap}}
	read := func() (int64, bool) {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0, false
		}
		return int64(sample[0].Value.Uint64()), true
	}
	tune(ctx, gc, every, read, debug.SetGCPercent)
}

// tune is Tune reading the live heap with read and setting GOGC with set (which
// returns the GOGC before, as debug.SetGCPercent does).
func tune(ctx context.Context, gc GC, every time.Duration, read func() (int64, bool), set func(int) int) {
	if gc.Headroom <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	current, old := 0, 0
	for {
		if live, ok := read(); ok {
			if p := PercentFor(gc, live); p != current {
				if prev := set(p); current == 0 {
					old = prev
				}
				current = p
			}
		}
		select {
		case <-ctx.Done():
			if current != 0 {
				set(old)
			}
			return
		case <-t.C:
		}
	}
}

// Start applies gc (Apply) and keeps GOGC tuned to the live heap (Tune, every
// interval) until the returned stop is called, which ends the tuning and restores
// the collector's settings from before.
func Start(ctx context.Context, gc GC, every time.Duration) (stop func()) {
	undo := Apply(gc)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Tune(ctx, gc, every)
	}()
	return func() {
		cancel()
		<-done
		undo()
	}
}
