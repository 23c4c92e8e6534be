package demo

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/trackhook/trackhook/references"
)

// The containers of a bill of lading or a booking: up to maxContainers, shipped on the
// same vessels as the first. Each is stuffed and gated in at its own pace before the
// load, loaded and discharged an hour after the one before it, and makes its own way
// from the destination's terminal back to the empty depot; the last one is held at the
// terminal and returns after all the others, so that a bill of lading shows one
// container still out while the rest are done.
const maxContainers = 5

// containersOf returns the containers of the reference with identifier ident of kind,
// their ISO size and type codes, and the random stream their moves on land are drawn
// from (see addContainers). They come from the identifier alone, so that a bill of
// lading has the same containers in every account: a container reference has one,
// itself; a bill of lading or a booking 1 to maxContainers.
func containersOf(kind references.IdentifierKind, ident string) (containers, isos []string, rng *rand.Rand) {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s", kind, strings.ToUpper(ident))
	seed := h.Sum64()
	rng = rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))
	if kind == references.KindContainer {
		containers = []string{ident}
	} else {
		for n := 1 + rng.IntN(maxContainers); len(containers) < n; {
			if c := containerNumber(rng); !slices.Contains(containers, c) {
				containers = append(containers, c)
			}
		}
	}
	isos = make([]string, len(containers))
	for i := range isos {
		isos[i] = pick(rng, isoCodes())
	}
	return containers, isos, rng
}

// addContainers adds the milestones of containers[1:] to a voyage whose milestones are
// those of containers[0], drawing from rng. They go after the first container's, so
// that its milestones keep their indexes, and with them their event ids.
func (v *voyage) addContainers(rng *rand.Rand, containers, isos []string) {
	first := len(v.milestones)
	for k := 1; k < len(containers); k++ {
		held := k == len(containers)-1
		early := time.Duration(rng.IntN(13)) * time.Hour // its pace before the load
		var prev time.Time                               // its previous milestone after the discharge
		for i := 0; i < first; i++ {
			m := v.milestones[i] // a copy
			if m.typ != references.EventEquipment {
				continue
			}
			m.equipment, m.iso = containers[k], isos[k]
			switch {
			case m.leg >= 0: // loaded or discharged: in turn, an hour apart
				m.planned = m.planned.Add(time.Duration(k) * time.Hour)
				prev = m.planned
			case !isPostDischarge(&m):
				m.planned = m.planned.Add(early)
			default:
				m.planned = prev.Add(postDischargeWait(rng, m.code))
				if held && m.code == references.CodeGateOut {
					m.planned = later(m.planned, v.lastPlanned(references.CodeGateOut).Add(time.Duration(24+rng.IntN(25))*time.Hour))
				}
				if held && m.code == references.CodeGateIn {
					m.planned = later(m.planned, v.lastPlanned(references.CodeGateIn).Add(time.Duration(12+rng.IntN(13))*time.Hour))
				}
				prev = m.planned
			}
			v.milestones = append(v.milestones, m)
		}
	}
}

// isPostDischarge reports whether m is one of a container's moves after its discharge
// at the destination: the laden gate-out, the stripping and the empty return.
func isPostDischarge(m *milestone) bool {
	return m.typ == references.EventEquipment && m.leg < 0 && m.delayedBy > 0
}

// postDischargeWait draws how long after its previous milestone a container makes the
// move code, as the first container's are drawn (see planVoyage).
func postDischargeWait(rng *rand.Rand, code string) time.Duration {
	lo, hi := 24, 72
	switch code {
	case references.CodeGateOut:
		hi = 96
	case references.CodeStripping:
		hi = 48
	}
	return time.Duration(lo+rng.IntN(hi-lo+1)) * time.Hour
}

// lastPlanned is the latest planned time of the post-discharge milestones with code
// of the containers so far.
func (v *voyage) lastPlanned(code string) time.Time {
	var t time.Time
	for i := range v.milestones {
		if m := &v.milestones[i]; isPostDischarge(m) && m.code == code {
			t = later(t, m.planned)
		}
	}
	return t
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
