package poller

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// A source that is down fails the polls of every reference it serves: thousands of
// lines a minute that would bury everything else in the log. So each source (and
// outcome) gets at most failureLogBurst lines in a failureLogWindow; the polls left
// out are counted, and the count is logged when the source's next line opens a new
// window. trackhook_polls_total counts every one of them.
const (
	failureLogWindow = time.Minute
	failureLogBurst  = 10
)

// failureLog logs failed polls: a failed one at warn, one whose shipment the source
// does not know at info (usual for a booking the carrier has not published yet).
type failureLog struct {
	log   *slog.Logger
	clock clock.Clock

	mu      sync.Mutex
	windows map[failureKey]*failureWindow // one per source and outcome: few
}

type failureKey struct{ source, outcome string }

type failureWindow struct {
	start              time.Time
	logged, suppressed int
}

func newFailureLog(log *slog.Logger, clk clock.Clock) *failureLog {
	return &failureLog{log: log, clock: clk, windows: map[failureKey]*failureWindow{}}
}

// poll logs the recorded failed poll of ref (outcome failed or not_found), unless
// its source has used up its lines for the window.
func (f *failureLog) poll(ctx context.Context, ref references.Reference, source, outcome string, res references.PollResult) {
	level, msg := slog.LevelWarn, "poll failed"
	if outcome != "failed" {
		level, msg = slog.LevelInfo, "poll: shipment not known to the source"
	}
	if !f.log.Enabled(ctx, level) {
		return
	}
	now := f.clock.Now()
	f.mu.Lock()
	k := failureKey{source, outcome}
	w := f.windows[k]
	if w == nil {
		w = &failureWindow{start: now}
		f.windows[k] = w
	}
	left, since := 0, w.start
	if now.Sub(w.start) >= failureLogWindow {
		left = w.suppressed
		*w = failureWindow{start: now}
	}
	logIt := w.logged < failureLogBurst
	if logIt {
		w.logged++
	} else {
		w.suppressed++
	}
	f.mu.Unlock()

	if left > 0 {
		f.log.Log(ctx, level, "polls left out of the log", "source", source, "outcome", outcome,
			"count", left, "since", since, "limit", fmt.Sprintf("%d lines per %s", failureLogBurst, failureLogWindow))
	}
	if logIt {
		f.log.Log(ctx, level, msg, "reference_id", ref.ID, "carrier", ref.CarrierCode, "source", source,
			"consecutive_failures", res.ConsecutiveFailures, "err", res.Error)
	}
}
