package tracking

import (
	"reflect"
	"slices"
	"testing"

	"github.com/trackhook/trackhook/references"
)

// The containers of billOfLading, out of order on purpose: Derive lists them by number.
const (
	ctrA = "TRHU5120374"
	ctrB = "TRHU4716245"
	ctrC = "TRHU6690010"
)

func (b eventBuilder) eq(number string) eventBuilder {
	b.EquipmentReference = number
	b.ID += "-" + number
	return b
}

func (b eventBuilder) iso(code string) eventBuilder { b.ISOEquipmentCode = code; return b }

// billOfLading is transshippedVoyage for several containers shipped together: each
// container's own (equipment) milestones, the first progress[number] of them happened,
// and the vessel's (transport) events once, as far as the furthest container has come.
func billOfLading(progress map[string]int) *references.Shipment {
	furthest := 0
	var events []eventBuilder
	for number, n := range progress {
		furthest = max(furthest, n)
		for _, e := range transshippedVoyage(n) {
			if e.Type == references.EventEquipment {
				events = append(events, e.eq(number))
			}
		}
	}
	for _, e := range transshippedVoyage(furthest) {
		if e.Type == references.EventTransport {
			events = append(events, e)
		}
	}
	return mkShipment(events...)
}

func containerNumbersOf(cs []references.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Number)
	}
	return out
}

func TestDerive_Containers(t *testing.T) {
	t.Parallel()
	// A and B returned empty, C still held at the destination's terminal.
	s := billOfLading(map[string]int{ctrA: 14, ctrB: 14, ctrC: 11})
	s.Events = append(s.Events, mkEvent("ISSU", clsACT, 900).kind(references.EventShipment).e())
	d := Derive(s)
	if got, want := containerNumbersOf(d.Containers), []string{ctrB, ctrA, ctrC}; !slices.Equal(got, want) {
		t.Fatalf("containers %v, want %v (by number)", got, want)
	}
	for _, c := range d.Containers {
		if len(c.Milestones) != 10 {
			t.Errorf("%s: %d milestones, want its 10 equipment events", c.Number, len(c.Milestones))
		}
		for _, e := range c.Milestones {
			if e.EquipmentReference != c.Number {
				t.Errorf("%s has a milestone of %q", c.Number, e.EquipmentReference)
			}
		}
		if !slices.IsSortedFunc(c.Milestones, func(a, b references.Event) int { return compareEvents(&a, &b) }) {
			t.Errorf("%s: milestones not in canonical order", c.Number)
		}
	}
	byNumber := map[string]references.Container{}
	for _, c := range d.Containers {
		byNumber[c.Number] = c
	}
	if st := byNumber[ctrA].Status; st != references.ShipmentEmptyReturned {
		t.Errorf("%s: status %s, want empty_returned", ctrA, st)
	}
	held := byNumber[ctrC]
	if held.Status != references.ShipmentArrived || held.LastEvent == nil || held.LastEvent.Code != references.CodeDischarge {
		t.Errorf("held container: status %s, last event %+v; want arrived, the discharge", held.Status, held.LastEvent)
	}
	if d.Status != references.ShipmentArrived {
		t.Errorf("shipment status %s, want arrived: that of the container that has come least far", d.Status)
	}
	if byNumber[ctrA].LastEvent == nil || byNumber[ctrA].LastEvent.Code != references.CodeGateIn {
		t.Errorf("the document issued after the empty return is %s's last event: %+v", ctrA, byNumber[ctrA].LastEvent)
	}
	if loc := held.CurrentLocation; loc == nil || loc.UNLocode != "NLRTM" {
		t.Errorf("held container at %+v, want NLRTM", loc)
	}
	if again := Derive(d); !reflect.DeepEqual(again, d) {
		t.Error("Derive(Derive(x)) != Derive(x)")
	}
}

func TestDerive_ContainerNumbersAndCodes(t *testing.T) {
	t.Parallel()
	s := mkShipment(
		mkEvent("GTOT", clsACT, 0).at("CNSHA").empty().eq(" trhu4716245 ").iso("22g1"),
		mkEvent("STUF", clsACT, 10).at("CNSHA").eq("TRHU4716245"),
		mkEvent("GTIN", clsACT, 20).at("CNSHA").laden().eq("TRHU4716245").iso("45G1"),
		mkEvent("LOAD", clsEST, 40).at("CNSHA").eq("TRHU4716245"),
	)
	d := Derive(s)
	if len(d.Containers) != 1 {
		t.Fatalf("containers %v, want one: references differing in case and spaces are one container", containerNumbersOf(d.Containers))
	}
	c := d.Containers[0]
	if c.Number != ctrB || c.ISOEquipmentCode != "45G1" || len(c.Milestones) != 4 {
		t.Errorf("container %s %s with %d milestones; want %s, the latest code 45G1, 4 milestones", c.Number, c.ISOEquipmentCode, len(c.Milestones), ctrB)
	}
	if d := Derive(mkShipment(transshippedVoyage(14)...)); d.Containers != nil {
		t.Errorf("events without equipment references gave containers %v", containerNumbersOf(d.Containers))
	}
}

// A container reference's events all name its container (or none): its status and
// completeness are what they were before shipments had containers.
func TestDerive_OneContainerIsTheShipment(t *testing.T) {
	t.Parallel()
	for n := range 15 {
		plain := transshippedVoyage(n)
		var named []eventBuilder
		for _, e := range plain {
			if e.Type == references.EventEquipment {
				e = e.eq(ctrB)
			}
			named = append(named, e)
		}
		p, d := Derive(mkShipment(plain...)), Derive(mkShipment(named...))
		if len(d.Containers) != 1 || d.Status != p.Status || d.Containers[0].Status != p.Status {
			t.Errorf("%d events happened: status %s (container %v), without equipment references %s", n, d.Status, d.Containers, p.Status)
		}
		if IsComplete(d, nil) != IsComplete(p, nil) {
			t.Errorf("%d events happened: complete %v, without equipment references %v", n, IsComplete(d, nil), IsComplete(p, nil))
		}
	}
}

func TestIsComplete_EveryContainer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		progress map[string]int
		want     bool
	}{
		{"all three returned empty", map[string]int{ctrA: 14, ctrB: 14, ctrC: 14}, true},
		{"two returned, one held at the terminal", map[string]int{ctrA: 14, ctrB: 14, ctrC: 11}, false},
		{"two returned, one delivered", map[string]int{ctrA: 14, ctrB: 14, ctrC: 13}, false},
		{"one returned, the others on their way", map[string]int{ctrA: 14, ctrB: 9, ctrC: 9}, false},
		{"none returned", map[string]int{ctrA: 13, ctrB: 13, ctrC: 13}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := billOfLading(tt.progress)
			if got := IsComplete(s, nil); got != tt.want {
				t.Errorf("IsComplete = %v, want %v", got, tt.want)
			}
			if got := IsComplete(reversedEvents(s), nil); got != tt.want {
				t.Errorf("in reverse order: IsComplete = %v, want %v", got, tt.want)
			}
			if returned := Derive(s).Status == references.ShipmentEmptyReturned; returned != tt.want {
				t.Errorf("status empty_returned = %v, want %v", returned, tt.want)
			}
		})
	}
}

func TestDiff_Containers(t *testing.T) {
	t.Parallel()
	type change struct {
		typ       references.ChangeType
		container string
	}
	shipmentChanges := func(cs []references.Change) []change {
		var out []change
		for _, c := range cs {
			if c.Event == nil {
				out = append(out, change{c.Type, c.Container})
			}
		}
		return out
	}
	tests := []struct {
		name     string
		old, cur *references.Shipment
		want     []change // the changes without an event
	}{
		{
			// The shipment stays arrived, as C does; everything happens at NLRTM.
			name: "one container returned, another delivered, one held: each one's own progress",
			old:  billOfLading(map[string]int{ctrA: 11, ctrB: 11, ctrC: 11}),
			cur:  billOfLading(map[string]int{ctrA: 14, ctrB: 12, ctrC: 11}),
			want: []change{{references.ChangeStatusChanged, ctrB}, {references.ChangeStatusChanged, ctrA}},
		},
		{
			// A is transshipped at SGSIN; B, on the first vessel still, is at SGSIN too
			// since the vessel's arrival there concerns every container.
			name: "transshipment",
			old:  billOfLading(map[string]int{ctrA: 5, ctrB: 5}),
			cur:  billOfLading(map[string]int{ctrA: 9, ctrB: 5}),
			want: []change{
				{references.ChangeLocationChanged, ctrB}, {references.ChangeLocationChanged, ctrA},
				{references.ChangeLocationChanged, ""}, {references.ChangeVesselChanged, ""}, {references.ChangeVoyageChanged, ""},
			},
		},
		{
			name: "a container added and one removed",
			old:  billOfLading(map[string]int{ctrA: 5, ctrB: 5}),
			cur:  billOfLading(map[string]int{ctrA: 5, ctrC: 5}),
			want: []change{{references.ChangeContainerRemoved, ctrB}, {references.ChangeContainerAdded, ctrC}}, // by number
		},
		{
			name: "one container: its progress is the shipment's, said once",
			old:  billOfLading(map[string]int{ctrA: 5}),
			cur:  billOfLading(map[string]int{ctrA: 11}),
			want: []change{
				{references.ChangeStatusChanged, ""}, {references.ChangeLocationChanged, ""},
				{references.ChangeVesselChanged, ""}, {references.ChangeVoyageChanged, ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Diff(Derive(tt.old), Derive(tt.cur))
			for _, c := range got {
				if c.Event != nil && c.Container != norm(c.Event.EquipmentReference) {
					t.Errorf("%s of %s names container %q", c.Type, c.Event.ID, c.Container)
				}
			}
			if s := shipmentChanges(got); !slices.Equal(s, tt.want) {
				t.Errorf("changes %v, want %v", s, tt.want)
			}
		})
	}
}

// TestDiff_SnapshotStoredBeforeContainers: a snapshot stored before snapshots had
// containers compares equal to the same events derived now, so the first poll after
// an upgrade sends nothing.
func TestDiff_SnapshotStoredBeforeContainers(t *testing.T) {
	t.Parallel()
	for _, s := range []*references.Shipment{
		billOfLading(map[string]int{ctrA: 14, ctrB: 12, ctrC: 11}),
		billOfLading(map[string]int{ctrB: 8}),
	} {
		cur := Derive(s)
		stored := *cur
		stored.Containers = nil
		stored.Status = deriveStatus(cur.Events, cur.Origin, cur.Destination) // as Derive gave it then
		if got := Diff(&stored, cur); len(got) != 0 {
			t.Errorf("%d containers: Diff(stored before containers, now) = %+v", len(cur.Containers), got)
		}
	}
}
