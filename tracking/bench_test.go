package tracking

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// benchSnapshots returns a realistic snapshot of 24 events (a transshipped voyage
// under way, listing the plans beside the estimates and actuals as DCSA feeds do) and
// the next poll of it, in which one estimate moved.
func benchSnapshots(b *testing.B) (old, cur *references.Shipment) {
	b.Helper()
	s := readShipmentFixture(b, filepath.Join("..", "testdata", "diff", "full_voyage", "05.json"))
	for _, e := range slices.Clone(s.Events) {
		if e.Type != references.EventShipment && e.Classifier != references.ClassifierPlanned && len(s.Events) < 24 {
			e.Classifier, e.ID = references.ClassifierPlanned, e.ID+"-plan"
			s.Events = append(s.Events, e)
		}
	}
	next := &references.Shipment{Events: slices.Clone(s.Events)}
	for i := range next.Events {
		if next.Events[i].Code == references.CodeArrival && next.Events[i].Classifier == references.ClassifierEstimated {
			next.Events[i].Time = next.Events[i].Time.Add(5 * time.Hour)
		}
	}
	old, cur = Derive(s), Derive(next)
	if n := len(old.Events); n < 20 || n > 30 {
		b.Fatalf("benchmark snapshot has %d events, want 20-30", n)
	}
	if got := Diff(old, cur); len(got) != 2 { // the estimate and the ETA
		b.Fatalf("benchmark diff has %d changes, want 2: %+v", len(got), got)
	}
	return old, cur
}

func BenchmarkDiff(b *testing.B) {
	old, cur := benchSnapshots(b)
	b.ReportAllocs()
	for b.Loop() {
		Diff(old, cur)
	}
}

func BenchmarkDerive(b *testing.B) {
	_, cur := benchSnapshots(b)
	b.ReportAllocs()
	for b.Loop() {
		Derive(cur)
	}
}
