package demo_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/tracking"
)

var created = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

func testRef(i int, kind references.IdentifierKind) references.Reference {
	r := references.Reference{ID: fmt.Sprintf("ref_%04d", i), CarrierCode: demo.CarrierCode, CreatedAt: created, Status: references.StatusActive}
	switch kind {
	case references.KindContainer:
		r.ContainerID = fmt.Sprintf("MSCU%07d", i)
	case references.KindBillOfLading:
		r.BillOfLading = fmt.Sprintf("DEMOBL%06d", i)
	default:
		r.BookingNumber = fmt.Sprintf("BK%08d", i)
	}
	return r
}

var kinds = []references.IdentifierKind{references.KindContainer, references.KindBillOfLading, references.KindBooking}

func fetch(t testing.TB, s *demo.Source, ref references.Reference) *references.Shipment {
	t.Helper()
	sh, err := s.Fetch(context.Background(), ref)
	if err != nil {
		t.Fatalf("fetch %s: %v", ref.ID, err)
	}
	return sh
}

func TestFetch_IsDeterministic(t *testing.T) {
	t.Parallel()
	now := created.Add(23 * 24 * time.Hour)
	a := demo.New(demo.Options{Clock: clock.NewFake(now)})
	b := demo.New(demo.Options{Clock: clock.NewFake(now)})
	seen := map[string]bool{}
	for i := range 30 {
		ref := testRef(i, kinds[i%3])
		first, second := fetch(t, a, ref), fetch(t, b, ref)
		if !reflect.DeepEqual(first, second) {
			t.Fatalf("%s: two fetches at the same time differ", ref.ID)
		}
		seen[fmt.Sprint(tracking.Derive(first).Destination, tracking.Derive(first).ETA)] = true
	}
	if len(seen) < 10 {
		t.Errorf("30 references got only %d different voyages", len(seen))
	}
}

// run polls ref every step of simulated time from its creation until after its voyage
// is over, and returns the snapshots, derived, with the simulated time of each.
func run(t testing.TB, ref references.Reference, step time.Duration) ([]*references.Shipment, []time.Time) {
	t.Helper()
	clk := clock.NewFake(ref.CreatedAt)
	s := demo.New(demo.Options{Clock: clk})
	var snaps []*references.Shipment
	var times []time.Time
	for clk.Now().Before(ref.CreatedAt.Add(120 * 24 * time.Hour)) {
		snaps = append(snaps, tracking.Derive(fetch(t, s, ref)))
		times = append(times, clk.Now())
		clk.Advance(step)
	}
	return snaps, times
}

func TestFetch_VoyageUnfoldsOverSimulatedTime(t *testing.T) {
	t.Parallel()
	for i := range 12 {
		ref := testRef(i, kinds[i%3])
		t.Run(ref.ID, func(t *testing.T) {
			t.Parallel()
			snaps, times := run(t, ref, 6*time.Hour)
			actuals := map[string]time.Time{}
			prevACT := -1
			for n, s := range snaps {
				count := 0
				for _, e := range s.Events {
					if e.Classifier == references.ClassifierActual {
						count++
						if e.Time.After(times[n]) {
							t.Fatalf("at %s an actual event lies in the future: %+v", times[n], e)
						}
						if was, ok := actuals[e.ID]; ok && !was.Equal(e.Time) {
							t.Fatalf("actual %s moved from %s to %s", e.ID, was, e.Time)
						}
						actuals[e.ID] = e.Time
					} else if !e.Time.After(times[n]) {
						t.Fatalf("at %s a %s event lies in the past: %+v", times[n], e.Classifier, e)
					}
				}
				if count < prevACT {
					t.Fatalf("at %s %d actual events, before %d", times[n], count, prevACT)
				}
				prevACT = count
				if done := tracking.IsComplete(s, nil); done != (s.Status == references.ShipmentEmptyReturned) {
					t.Fatalf("at %s complete = %v with status %s", times[n], done, s.Status)
				}
			}
			first, last := snaps[0], snaps[len(snaps)-1]
			if first.Status != references.ShipmentBooked {
				t.Errorf("first status %s, want booked", first.Status)
			}
			if prevACT != len(last.Events) {
				t.Errorf("after the voyage %d of %d events are actual", prevACT, len(last.Events))
			}
			end := last.Events[len(last.Events)-1]
			if end.Code != references.CodeGateIn || end.EmptyIndicator != "EMPTY" {
				t.Errorf("last event %s %s, want the empty return", end.Code, end.EmptyIndicator)
			}
			if !tracking.IsComplete(last, nil) || last.Status != references.ShipmentEmptyReturned {
				t.Errorf("final snapshot: complete %v, status %s", tracking.IsComplete(last, nil), last.Status)
			}
			if tracking.IsComplete(snaps[len(snaps)/4], nil) {
				t.Error("complete a quarter of the way")
			}
		})
	}
}

// TestFetch_ConsecutivePollsDiffSensibly replays many voyages and checks the changes
// a poller would send: a first poll of added events, then progress only (the demo
// never withdraws or removes anything), the ETA revised in every voyage (as the vessel
// sails), and over all voyages every kind of progress.
func TestFetch_ConsecutivePollsDiffSensibly(t *testing.T) {
	t.Parallel()
	seen := map[references.ChangeType]int{}
	transshipped, delayed := 0, 0
	const refs = 45
	for i := range refs {
		ref := testRef(1000+i, kinds[i%3])
		snaps, _ := run(t, ref, 6*time.Hour)
		vessels := map[string]bool{}
		etaMoved := false
		var prev *references.Shipment
		for n, s := range snaps {
			changes := tracking.Diff(prev, s)
			if n == 0 && (len(changes) == 0 || changes[0].Type != references.ChangeEventAdded) {
				t.Fatalf("%s: first poll gave %+v", ref.ID, changes)
			}
			for _, c := range changes {
				seen[c.Type]++
				switch c.Type {
				case references.ChangeEventRemoved, references.ChangeActualCorrected:
					t.Fatalf("%s: unexpected %s: %s", ref.ID, c.Type, c.Description)
				case references.ChangeEventAdded:
					if n > 0 {
						t.Fatalf("%s: a milestone appeared late: %s", ref.ID, c.Description)
					}
				case references.ChangeETAChanged:
					etaMoved = etaMoved || c.Old != ""
				}
			}
			if s.CurrentVessel != nil {
				vessels[s.CurrentVessel.VesselIMO] = true
			}
			prev = s
		}
		if len(vessels) == 2 {
			transshipped++
		}
		if !etaMoved {
			t.Errorf("%s: the ETA was never revised", ref.ID)
		}
		if first, last := snaps[0].ETA, prev.ETA; first == nil || last == nil || !last.Equal(*first) {
			delayed++ // arrived other than first planned
		}
		kind, _ := ref.Identifier()
		docs := 0
		for _, e := range prev.Events {
			if e.Type == references.EventShipment {
				docs++
			}
		}
		if (kind == references.KindContainer) != (docs == 0) {
			t.Errorf("%s (%s) has %d shipment events", ref.ID, kind, docs)
		}
	}
	for _, want := range []references.ChangeType{
		references.ChangeEventAdded, references.ChangeActualized, references.ChangeEstimateChanged,
		references.ChangeStatusChanged, references.ChangeLocationChanged, references.ChangeVesselChanged,
		references.ChangeVoyageChanged, references.ChangeETAChanged,
	} {
		if seen[want] == 0 {
			t.Errorf("no %s change in %d voyages", want, refs)
		}
	}
	t.Logf("%d transshipped, %d delayed, changes %v", transshipped, delayed, seen)
	if transshipped < refs/6 || transshipped > refs/2 {
		t.Errorf("%d of %d voyages transshipped, want about a third", transshipped, refs)
	}
	if delayed < refs/5 || delayed > refs*4/5 {
		t.Errorf("%d of %d voyages arrived late, want about half", delayed, refs)
	}
}

func TestFetch_SpeedScalesSimulatedTime(t *testing.T) {
	t.Parallel()
	ref := testRef(7, references.KindBillOfLading)
	realTime := created.Add(90 * time.Second)
	fast := demo.New(demo.Options{Speed: 3600, Clock: clock.NewFake(realTime)})
	slowTime := created.Add(90 * time.Hour)
	slow := demo.New(demo.Options{Speed: 1, Clock: clock.NewFake(slowTime)})
	if got := fast.SimulatedTime(created); !got.Equal(slowTime) {
		t.Errorf("simulated time at speed 3600 after 90s = %s, want %s", got, slowTime)
	}
	if !reflect.DeepEqual(fetch(t, fast, ref), fetch(t, slow, ref)) {
		t.Error("speed 3600 for 90 seconds differs from speed 1 for 90 hours")
	}

	// A month at speed 3600 takes twelve minutes: the voyage is over after an hour.
	done := demo.New(demo.Options{Speed: 3600, Clock: clock.NewFake(created.Add(time.Hour))})
	if !tracking.IsComplete(fetch(t, done, ref), nil) {
		t.Error("voyage not complete after an hour at speed 3600")
	}
}

func TestNew_SpeedDefaultsToRealTime(t *testing.T) {
	t.Parallel()
	now := created.Add(5 * time.Hour)
	for _, speed := range []float64{0, -3, math.NaN(), math.Inf(1), math.Inf(-1)} {
		s := demo.New(demo.Options{Speed: speed, Clock: clock.NewFake(now)})
		if got := s.SimulatedTime(created); !got.Equal(now) {
			t.Errorf("speed %v: simulated time %s, want %s", speed, got, now)
		}
	}
	huge := demo.New(demo.Options{Speed: 1e300, Clock: clock.NewFake(now)})
	if got := huge.SimulatedTime(created); !got.After(created.Add(50 * 365 * 24 * time.Hour)) {
		t.Errorf("speed 1e300: simulated time %s, want far ahead", got)
	}
	early := demo.New(demo.Options{Clock: clock.NewFake(created.Add(-time.Hour))})
	if got := early.SimulatedTime(created); !got.Equal(created) {
		t.Errorf("before creation: simulated time %s, want %s", got, created)
	}
	if _, err := demo.New(demo.Options{}).Fetch(context.Background(), testRef(1, references.KindContainer)); err != nil {
		t.Errorf("with the real clock: %v", err)
	}
}

func TestFetch_NotFound(t *testing.T) {
	t.Parallel()
	s := demo.New(demo.Options{Clock: clock.NewFake(created)})
	for _, ref := range []references.Reference{
		{ID: "ref_nf1", ContainerID: "NOTFOUND0001", CreatedAt: created},
		{ID: "ref_nf2", BillOfLading: "notfound-bl", CreatedAt: created},
		{ID: "ref_nf3", BookingNumber: "NOTFOUNDBK", CreatedAt: created},
	} {
		sh, err := s.Fetch(context.Background(), ref)
		if !errors.Is(err, references.ErrShipmentNotFound) || sh != nil {
			t.Errorf("%s: got %v, %v; want ErrShipmentNotFound", ref.ID, sh, err)
		}
	}
	if _, err := s.Fetch(context.Background(), references.Reference{ID: "ref_f", ContainerID: "FOUNDNOT1", CreatedAt: created}); err != nil {
		t.Errorf("an identifier merely containing the word: %v", err)
	}
}

func TestFetch_HonoursCancellation(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := demo.New(demo.Options{}).Fetch(ctx, testRef(1, references.KindContainer))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func BenchmarkFetch(b *testing.B) {
	now := created.Add(20 * 24 * time.Hour)
	s := demo.New(demo.Options{Clock: clock.NewFake(now)})
	ref := testRef(3, references.KindBillOfLading)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Fetch(ctx, ref); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFetch_BillOfLadingCompletesWithItsLastContainer replays bills of lading and
// bookings: tracking is complete exactly when every container has been returned, and
// where there are several, the polls see some returned while the last is still out.
func TestFetch_BillOfLadingCompletesWithItsLastContainer(t *testing.T) {
	t.Parallel()
	multi := 0
	for i := range 20 {
		ref := testRef(2000+i, kinds[1+i%2])
		snaps, times := run(t, ref, 6*time.Hour)
		last := snaps[len(snaps)-1]
		if len(last.Containers) == 0 {
			t.Fatalf("%s: no containers", ref.ID)
		}
		partly := false
		for n, s := range snaps {
			returned := 0
			for _, c := range s.Containers {
				if c.Status == references.ShipmentEmptyReturned {
					returned++
				}
			}
			if done := tracking.IsComplete(s, nil); done != (returned == len(s.Containers)) {
				t.Fatalf("%s at %s: complete %v with %d of %d containers returned", ref.ID, times[n], done, returned, len(s.Containers))
			}
			partly = partly || (returned > 0 && returned < len(s.Containers))
		}
		if !tracking.IsComplete(last, nil) {
			t.Errorf("%s: not complete after the voyage", ref.ID)
		}
		if len(last.Containers) > 1 {
			multi++
			if !partly {
				t.Errorf("%s: its %d containers were all returned at the same poll", ref.ID, len(last.Containers))
			}
		}
	}
	if multi == 0 {
		t.Error("no bill of lading of several containers; the check proves nothing")
	}
}
