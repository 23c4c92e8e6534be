package demo_test

import (
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/tracking"
)

// The quickstart's promise (README, serve --help): at --demo-speed 3600, polled every
// 10s, a voyage runs from the create to its last update in quickstartShortest to
// quickstartLongest, about quickstartTypical on average, and no wait between two
// updates is longer than quickstartMaxGap.
const (
	quickstartSpeed    = 3600
	quickstartPoll     = 10 * time.Second
	quickstartShortest = 8 * time.Minute
	quickstartLongest  = 27 * time.Minute
	quickstartTypical  = 18 * time.Minute
	quickstartMaxGap   = 2 * time.Minute
)

// pacing is what a quickstart user sees of one voyage: the time from the create to
// the update that completes tracking, and the longest wait between two updates.
type pacing struct {
	total, maxGap time.Duration
	gapAfter      string // the change before the longest wait, to say where it was
}

// replay polls ref with the demo carrier at speed every interval of (fake) real
// time, as the poller does, and measures the pacing of the updates its changes make.
// It also checks that no estimate or plan lies in the simulated past.
func replay(t testing.TB, ref references.Reference, speed float64, interval time.Duration) pacing {
	t.Helper()
	clk := clock.NewFake(ref.CreatedAt)
	s := demo.New(demo.Options{Speed: speed, Clock: clk})
	var (
		p    pacing
		prev *references.Shipment
		last = ref.CreatedAt
		what = "the create"
	)
	for clk.Now().Sub(ref.CreatedAt) < 2*time.Hour {
		cur := tracking.Derive(fetch(t, s, ref))
		now := s.SimulatedTime(ref.CreatedAt)
		for _, e := range cur.Events {
			if e.Classifier != references.ClassifierActual && !e.Time.After(now) {
				t.Fatalf("%s: at %s the %s %s lies in the past: %s", ref.ID, now, e.Classifier, e.Code, e.Time)
			}
		}
		if changes := tracking.Diff(prev, cur); len(changes) > 0 {
			if gap := clk.Now().Sub(last); gap > p.maxGap {
				p.maxGap, p.gapAfter = gap, what
			}
			last, what = clk.Now(), changes[0].Description
		}
		if tracking.IsComplete(cur, nil) {
			p.total = clk.Now().Sub(ref.CreatedAt)
			return p
		}
		prev = cur
		clk.Advance(interval)
	}
	t.Fatalf("%s: not complete after two hours at speed %g", ref.ID, speed)
	return p
}

// TestFetch_QuickstartPacing replays many voyages as the quickstart runs them and
// checks the README's promise: how long a voyage takes, and that updates keep coming
// (the weeks at sea used to be a silence of up to a quarter of an hour).
func TestFetch_QuickstartPacing(t *testing.T) {
	t.Parallel()
	const refs = 200
	var totals []time.Duration
	var sum time.Duration
	worst := pacing{}
	for i := range refs {
		ref := testRef(5000+i, kinds[i%3])
		ref.CreatedAt = created.Add(time.Duration(i) * 37 * time.Minute) // any minute of the hour
		p := replay(t, ref, quickstartSpeed, quickstartPoll)
		if p.total < quickstartShortest || p.total > quickstartLongest {
			t.Errorf("%s: the voyage took %s, want %s to %s", ref.ID, p.total, quickstartShortest, quickstartLongest)
		}
		if p.maxGap > quickstartMaxGap+quickstartPoll {
			t.Errorf("%s: no update for %s after %q", ref.ID, p.maxGap, p.gapAfter)
		}
		totals = append(totals, p.total)
		sum += p.total
		if p.maxGap > worst.maxGap {
			worst = p
		}
	}
	slices.Sort(totals)
	mean := sum / refs
	t.Logf("%d voyages: %s to %s, median %s, mean %s; longest wait %s, after %q",
		refs, totals[0], totals[refs-1], totals[refs/2], mean.Round(time.Second), worst.maxGap, worst.gapAfter)
	if d := mean - quickstartTypical; d < -2*time.Minute || d > 2*time.Minute {
		t.Errorf("voyages take %s on average, want about %s", mean, quickstartTypical)
	}
}
