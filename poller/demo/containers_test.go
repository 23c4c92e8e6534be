package demo

import (
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// TestPlanVoyage_ContainersOfABillOfLading checks the containers the demo gives bills
// of lading and bookings: 1 to 5 valid and distinct numbers, each with a size and type
// code, each making the first container's moves in order, loaded and discharged on
// the vessel's calls, and the last one returned after all the others.
func TestPlanVoyage_ContainersOfABillOfLading(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	valid := regexp.MustCompile(`^[A-Z]{3}U[0-9]{7}$`)
	counts := map[int]int{}
	for i := range 300 {
		ref := references.Reference{ID: fmt.Sprintf("ref_%d", i), BillOfLading: fmt.Sprintf("DEMOBL%06d", i), CreatedAt: created}
		if i%2 == 1 {
			ref.BillOfLading, ref.BookingNumber = "", fmt.Sprintf("BK%08d", i)
		}
		v := planVoyage(&ref)
		byContainer := map[string][]milestone{}
		var order []string
		for _, m := range v.milestones {
			if m.equipment == "" {
				continue
			}
			if _, ok := byContainer[m.equipment]; !ok {
				order = append(order, m.equipment)
			}
			byContainer[m.equipment] = append(byContainer[m.equipment], m)
		}
		counts[len(order)]++
		if len(order) < 1 || len(order) > maxContainers {
			t.Fatalf("%s: %d containers", ref.ID, len(order))
		}
		first := byContainer[order[0]]
		for _, c := range order {
			ms := byContainer[c]
			if !valid.MatchString(c) || checkDigit(c) != int(c[10]-'0') {
				t.Fatalf("%s: container number %s is not valid", ref.ID, c)
			}
			if !slices.Contains(isoCodes(), ms[0].iso) {
				t.Fatalf("%s: %s has size and type %q", ref.ID, c, ms[0].iso)
			}
			if len(ms) != len(first) {
				t.Fatalf("%s: %s has %d milestones, the first container %d", ref.ID, c, len(ms), len(first))
			}
			for j, m := range ms {
				if m.code != first[j].code || m.iso != ms[0].iso || (j > 0 && m.planned.Before(ms[j-1].planned)) {
					t.Fatalf("%s: %s's milestone %d is %s at %s after %s", ref.ID, c, j, m.code, m.planned, ms[max(j-1, 0)].planned)
				}
				if m.leg >= 0 && !onTheCall(v, m) {
					t.Fatalf("%s: %s's %s at %s is not during the vessel's call", ref.ID, c, m.code, m.planned)
				}
			}
		}
		if len(order) > 1 {
			held := byContainer[order[len(order)-1]]
			for _, c := range order[:len(order)-1] {
				ms := byContainer[c]
				if !held[len(held)-1].planned.After(ms[len(ms)-1].planned) {
					t.Fatalf("%s: the last container returns at %s, not after %s's %s", ref.ID, held[len(held)-1].planned, c, ms[len(ms)-1].planned)
				}
			}
		}
	}
	for n := 1; n <= maxContainers; n++ {
		if counts[n] == 0 {
			t.Errorf("no bill of lading with %d containers in 300: %v", n, counts)
		}
	}
}

// onTheCall reports whether the load or discharge m lies between the arrival and the
// departure of its vessel at its port, as planned.
func onTheCall(v *voyage, m milestone) bool {
	var arrive, depart time.Time
	for _, o := range v.milestones {
		if o.typ != references.EventTransport || o.leg < 0 || o.location.UNLocode != m.location.UNLocode {
			continue
		}
		switch o.code {
		case references.CodeArrival:
			arrive = o.planned
		case references.CodeDeparture:
			depart = o.planned
		}
	}
	if m.code == references.CodeLoad {
		return depart.IsZero() || m.planned.Before(depart)
	}
	return !arrive.IsZero() && m.planned.After(arrive)
}
