package demo

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

func TestCheckDigit(t *testing.T) {
	t.Parallel()
	// CSQU3054383 is the worked example of ISO 6346.
	for _, n := range []string{"CSQU3054383"} {
		if got := checkDigit(n); got != int(n[10]-'0') {
			t.Errorf("checkDigit(%s) = %d", n, got)
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	valid := regexp.MustCompile(`^[A-Z]{3}U[0-9]{7}$`)
	for range 100 {
		n := containerNumber(rng)
		if !valid.MatchString(n) || checkDigit(n) != int(n[10]-'0') {
			t.Fatalf("made-up container number %s is not valid", n)
		}
	}
}

func TestVessels_HaveValidIMONumbers(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, v := range vessels() {
		sum := 0
		for i := range 6 {
			sum += int(v.imo[i]-'0') * (7 - i)
		}
		if len(v.imo) != 7 || sum%10 != int(v.imo[6]-'0') {
			t.Errorf("%s: IMO %s has a wrong check digit", v.name, v.imo)
		}
		if names[v.name] {
			t.Errorf("%s listed twice", v.name)
		}
		names[v.name] = true
	}
}

func TestPorts_AreUNLocodes(t *testing.T) {
	t.Parallel()
	code := regexp.MustCompile(`^[A-Z]{2}[A-Z2-9]{3}$`)
	all := exportPorts()
	for _, r := range []region{europe, usWest, usEast} {
		all = append(all, importPorts(r)...)
		all = append(all, hubs(r)...)
	}
	for _, p := range all {
		if !code.MatchString(p.code) || p.name == "" {
			t.Errorf("port %+v", p)
		}
	}
}

// TestPlanVoyage_IsPlausible checks the drawn voyages: ports differ, the schedule runs
// forward, a transshipment changes vessels, and delays are announced before the arrival
// they delay.
func TestPlanVoyage_IsPlausible(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	for i := range 200 {
		ref := references.Reference{ID: fmt.Sprintf("ref_%d", i), ContainerID: "CSQU3054383", CreatedAt: created}
		v := planVoyage(&ref)
		var prev time.Time
		places := map[string]bool{}
		for _, m := range v.milestones {
			if m.typ == references.EventShipment {
				continue
			}
			if m.planned.Before(prev) || m.planned.Before(created) {
				t.Fatalf("%s: %s planned at %s, before %s", ref.ID, m.code, m.planned, prev)
			}
			prev = m.planned
			places[m.location.UNLocode] = true
			if m.equipment != "" && m.equipment != ref.ContainerID {
				t.Fatalf("%s: equipment %s, want the tracked container", ref.ID, m.equipment)
			}
		}
		if len(places) != len(v.legs)+1 {
			t.Fatalf("%s: %d legs call at %d places", ref.ID, len(v.legs), len(places))
		}
		if len(v.legs) == 2 && v.legs[0].call.VesselIMO == v.legs[1].call.VesselIMO {
			t.Fatalf("%s: transshipped onto the same vessel", ref.ID)
		}
		for _, m := range v.milestones {
			if m.delayedBy == 0 || m.code != references.CodeArrival {
				continue
			}
			if l := v.legs[m.delayedBy-1]; !l.revealed.Before(m.planned) {
				t.Fatalf("%s: delay announced at %s, after the arrival at %s", ref.ID, l.revealed, m.planned)
			}
		}
	}
}
