package demo

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/trackhook/trackhook/references"
)

// voyage is everything a reference's simulated shipment will ever do, drawn once from
// the reference's seed. What a poll sees of it depends only on the simulated time (see
// publish.go).
type voyage struct {
	seed       uint64
	legs       []leg
	milestones []milestone
}

// leg is one vessel's part of the voyage. Delay is how much later than planned the
// vessel arrives; the carrier announces it at Revealed, which moves every estimate from
// that arrival on. Depart and arrive index the leg's departure and arrival in
// voyage.milestones; while the vessel is under way between them, the carrier revises
// its estimate of the arrival (see revise.go).
type leg struct {
	call           references.TransportCall
	delay          time.Duration
	revealed       time.Time
	depart, arrive int
}

// milestone is one event of the voyage as planned.
type milestone struct {
	typ       references.EventType
	code      string
	empty     string // EMPTY or LADEN on equipment events
	location  *references.Location
	leg       int // index into voyage.legs of the transport call, -1 for none
	equipment string
	iso       string // the container's ISO 6346 size and type code, on equipment events
	planned   time.Time
	// delayedBy is how many legs' delays this milestone inherits: the legs whose
	// arrival is at or before it.
	delayedBy int
}

// Timing of the simulation, in hours unless said otherwise. The ranges are drawn
// uniformly; they are meant to look like an ordinary container trip, not to model one.
const (
	maxDelayHours = 72 // a leg is late by up to three days...
	delayChance   = 2  // ...one time in delayChance
	hubChance     = 3  // one voyage in hubChance is transshipped
	backhaulOdds  = 4  // one voyage in backhaulOdds runs towards Asia
)

// planVoyage draws the voyage of ref. Everything comes from a seed hashed from the
// reference id and identifier, so the same reference always gets the same voyage;
// the containers from the identifier alone (see containersOf).
func planVoyage(ref *references.Reference) *voyage {
	kind, ident := ref.Identifier()
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%s", ref.ID, kind, ident)
	seed := h.Sum64()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	far := region(1 + rng.IntN(3)) // europe, usWest or usEast
	from := pick(rng, exportPorts())
	to := pick(rng, importPorts(far))
	var hub *port
	if rng.IntN(hubChance) == 0 {
		var candidates []port
		for _, p := range hubs(far) {
			if p.code != from.code {
				candidates = append(candidates, p)
			}
		}
		h := pick(rng, candidates)
		hub = &h
	}
	outbound := rng.IntN(backhaulOdds) != 0
	if !outbound {
		from, to = to, from
	}

	ships := vessels()
	first := rng.IntN(len(ships))
	second := (first + 1 + rng.IntN(len(ships)-1)) % len(ships)
	// Asia to Europe is westbound, Asia to America eastbound.
	direction := "E"
	if (far == europe) == outbound {
		direction = "W"
	}

	v := &voyage{seed: seed}
	base := ref.CreatedAt.UTC().Truncate(time.Hour)
	sea := time.Duration(transitDays(far)*24+rng.IntN(96)) * time.Hour
	legCount := 1
	if hub != nil {
		legCount = 2
	}
	for i := range legCount {
		s := ships[first]
		if i == 1 {
			s = ships[second]
		}
		l := leg{call: references.TransportCall{
			VesselName:      s.name,
			VesselIMO:       s.imo,
			Voyage:          fmt.Sprintf("%03d%s", 100+rng.IntN(900), direction),
			ModeOfTransport: "VESSEL",
		}}
		if rng.IntN(delayChance) == 0 {
			l.delay = time.Duration(6+rng.IntN(maxDelayHours-5)) * time.Hour
		}
		v.legs = append(v.legs, l)
	}

	containers, isos, crng := containersOf(kind, ident)
	container := containers[0]
	if kind != references.KindContainer {
		// The container of a bill of lading was drawn here before there were several:
		// the draw stays, so that every later one, and with them the voyages of
		// references made before, are as they were.
		containerNumber(rng)
	}

	// The schedule, built forward from the moment the reference was created.
	t := base
	after := func(minHours, maxHours int) time.Time {
		t = t.Add(time.Duration(minHours+rng.IntN(maxHours-minHours+1)) * time.Hour)
		return t
	}
	equip := func(code, empty string, loc *references.Location, legIdx, delayed int, at time.Time) {
		v.milestones = append(v.milestones, milestone{
			typ: references.EventEquipment, code: code, empty: empty, location: loc,
			leg: legIdx, equipment: container, iso: isos[0], planned: at, delayedBy: delayed,
		})
	}
	transport := func(code string, loc *references.Location, legIdx, delayed int, at time.Time) {
		v.milestones = append(v.milestones, milestone{
			typ: references.EventTransport, code: code, location: loc,
			leg: legIdx, planned: at, delayedBy: delayed,
		})
	}

	equip(references.CodeGateOut, "EMPTY", depot(from), -1, 0, after(6, 30))
	equip(references.CodeStuffing, "LADEN", premises(from, "shipper"), -1, 0, after(12, 36))
	equip(references.CodeGateIn, "LADEN", terminal(from), -1, 0, after(12, 48))
	equip(references.CodeLoad, "LADEN", terminal(from), 0, 0, after(24, 72))
	departed := after(8, 20)
	transport(references.CodeDeparture, port(from).location(), 0, 0, departed)
	if kind != references.KindContainer {
		v.milestones = append(v.milestones,
			milestone{typ: references.EventShipment, code: "CONF", leg: -1, planned: base.Add(-time.Duration(24+rng.IntN(48)) * time.Hour)},
			milestone{typ: references.EventShipment, code: "ISSU", leg: -1, planned: departed.Add(time.Duration(20+rng.IntN(28)) * time.Hour)},
		)
	}
	last := 0
	if hub != nil {
		leg1 := (sea * time.Duration(35+rng.IntN(20)) / 100).Round(time.Hour)
		t = t.Add(leg1)
		transport(references.CodeArrival, hub.location(), 0, 1, t)
		v.legs[0].revealed = t.Add(-time.Duration(24+rng.IntN(5*24)) * time.Hour)
		equip(references.CodeDischarge, "LADEN", terminal(*hub), 0, 1, after(4, 12))
		equip(references.CodeLoad, "LADEN", terminal(*hub), 1, 1, after(48, 120))
		transport(references.CodeDeparture, hub.location(), 1, 1, after(6, 14))
		sea -= leg1
		last = 1
	}
	t = t.Add(sea)
	transport(references.CodeArrival, to.location(), last, last+1, t)
	v.legs[last].revealed = t.Add(-time.Duration(24+rng.IntN(5*24)) * time.Hour)
	equip(references.CodeDischarge, "LADEN", terminal(to), last, last+1, after(6, 14))
	equip(references.CodeGateOut, "LADEN", terminal(to), -1, last+1, after(24, 96))
	equip(references.CodeStripping, "EMPTY", premises(to, "consignee"), -1, last+1, after(24, 48))
	equip(references.CodeGateIn, "EMPTY", depot(to), -1, last+1, after(24, 72))
	v.addContainers(crng, containers, isos)
	for i, m := range v.milestones {
		switch {
		case m.typ != references.EventTransport:
		case m.code == references.CodeDeparture:
			v.legs[m.leg].depart = i
		case m.code == references.CodeArrival:
			v.legs[m.leg].arrive = i
		}
	}
	return v
}

func pick[T any](rng *rand.Rand, from []T) T { return from[rng.IntN(len(from))] }

func (p port) location() *references.Location {
	return &references.Location{UNLocode: p.code, Name: p.name}
}

func terminal(p port) *references.Location {
	return &references.Location{UNLocode: p.code, Name: p.name + " container terminal"}
}

func depot(p port) *references.Location {
	return &references.Location{UNLocode: p.code, Name: p.name + " empty depot"}
}

func premises(p port, whose string) *references.Location {
	return &references.Location{UNLocode: p.code, Name: p.name + ", " + whose + "'s premises"}
}

// containerNumber makes up an ISO 6346 container number with a valid check digit.
func containerNumber(rng *rand.Rand) string {
	s := fmt.Sprintf("%s%06d", pick(rng, ownerCodes()), rng.IntN(1_000_000))
	return s + string(rune('0'+checkDigit(s)))
}

// checkDigit is the ISO 6346 check digit of the first ten characters of a container
// number: letters count 10 upwards skipping multiples of 11, each position weighs 2^i.
func checkDigit(s string) int {
	sum := 0
	for i, c := range strings.ToUpper(s[:10]) {
		var v int
		if c >= '0' && c <= '9' {
			v = int(c - '0')
		} else {
			v = 10 + int(c-'A')
			v += (v - 1) / 10 // skip 11, 22, 33
		}
		sum += v << i
	}
	return sum % 11 % 10
}
