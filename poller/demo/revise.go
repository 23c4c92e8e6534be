package demo

import (
	"math/rand/v2"
	"time"
)

// While a vessel is under way, the carrier revises its estimate of the arrival every
// reviseEvery of simulated time, as carriers do while a ship sails. Without this the
// weeks at sea publish nothing: at --demo-speed 3600 that was a silence of up to a
// quarter of an hour after the departure, which looks like a stall.
const (
	reviseEvery = 48 * time.Hour
	// maxEstimateError bounds how far a revised estimate lies from the arrival the
	// carrier knows of; the error shrinks as the arrival nears.
	maxEstimateError = 24 * time.Hour
)

// revision is the carrier's estimate of one leg's arrival in force at some time.
type revision struct {
	// n counts the revisions published since the leg's departure; it stays at the
	// total after the arrival, so that a revised estimate's id is never reused.
	n int
	// sailing is set while the vessel is under way: its arrival is then estimated
	// however far ahead it lies.
	sailing bool
	// offset is how far the estimate lies from the arrival the carrier knows of
	// (planned plus the delays announced); zero unless the vessel is under way.
	offset time.Duration
}

// revisions returns the revision in force at simulated time at for every leg.
func (v *voyage) revisions(at time.Time) []revision {
	out := make([]revision, len(v.legs))
	for l := range v.legs {
		out[l] = v.revisionOf(l, at)
	}
	return out
}

// revisionOf replays the revisions of leg l from its departure up to at. Revision j
// is published at departure + j*reviseEvery, with an error drawn from the leg's own
// random stream (so the voyage's other draws are untouched), never the same as the
// one before (each revision moves the estimate), and bounded below so that the
// estimate stays ahead of the time until the next revision or the arrival.
func (v *voyage) revisionOf(l int, at time.Time) revision {
	lg := &v.legs[l]
	depart, arrive := v.actualTime(lg.depart), v.actualTime(lg.arrive)
	if at.Before(depart) {
		return revision{}
	}
	sailing := at.Before(arrive)
	last := at
	if !sailing {
		last = arrive.Add(-time.Nanosecond) // the last revision before the arrival
	}
	count := int(last.Sub(depart)/reviseEvery) + 1
	rng := rand.New(rand.NewPCG(v.seed, uint64(l)+1))
	var offset time.Duration
	for j := range count {
		publishedAt := depart.Add(time.Duration(j) * reviseEvery)
		remaining := v.knownTime(lg.arrive, publishedAt).Sub(publishedAt)
		hi := min(maxEstimateError, remaining/4).Truncate(time.Hour)
		lo := time.Duration(0)
		if remaining > reviseEvery {
			lo = -min(hi, ((remaining - reviseEvery) / 2).Truncate(time.Hour))
		}
		next := lo + time.Duration(rng.Int64N(int64((hi-lo)/time.Hour)+1))*time.Hour
		if next == offset {
			next += time.Hour
		}
		offset = next
	}
	if !sailing {
		return revision{n: count}
	}
	return revision{n: count, sailing: true, offset: offset}
}

// actualTime is when milestone i happens: as planned, plus the delays of the legs it
// inherits.
func (v *voyage) actualTime(i int) time.Time {
	m := &v.milestones[i]
	t := m.planned
	for _, l := range v.legs[:m.delayedBy] {
		t = t.Add(l.delay)
	}
	return t
}

// knownTime is when the carrier expects milestone i at simulated time at: as
// planned, plus the delays announced by then.
func (v *voyage) knownTime(i int, at time.Time) time.Time {
	m := &v.milestones[i]
	t := m.planned
	for _, l := range v.legs[:m.delayedBy] {
		if !at.Before(l.revealed) {
			t = t.Add(l.delay)
		}
	}
	return t
}
