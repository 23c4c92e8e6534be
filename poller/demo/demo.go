// Package demo is a simulated carrier: the tracking source trackhook uses when no real
// one is configured, so that a fresh install tracks something and sends webhooks.
//
// Every reference gets a plausible container voyage between real ports, drawn from a
// seed hashed from the reference, and the voyage unfolds in simulated time: milestones
// are planned, then estimated (sometimes delayed, and revised every two simulated days
// while the ship is at sea), then happen, up to the empty container's return. A bill
// of lading or a booking covers 1 to 5 containers on the same vessels, each with its
// own moves on land; the last is held at the destination's terminal and returns after
// the others. The same reference at the same simulated time always yields the same
// events, ids included.
package demo

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// CarrierCode is the carrier code under which references are tracked by the demo.
const CarrierCode = "DEMO"

// NotFoundPrefix starts the identifiers the demo carrier does not know: Fetch answers
// them with references.ErrShipmentNotFound, to show what happens then.
const NotFoundPrefix = "NOTFOUND"

// Options configures a Source.
type Options struct {
	// Speed is how many simulated seconds pass per real second; 0 (or any value that
	// is not positive and finite) means 1. 3600 plays a voyage of six weeks or so in
	// about 18 minutes (8 to 27 by its route; see TestFetch_QuickstartPacing).
	Speed float64
	// Clock is the real time, which the simulated time runs ahead of; nil means the
	// real clock.
	Clock clock.Clock
}

// Source is the demo carrier. It is safe for concurrent use.
type Source struct {
	speed float64
	now   func() time.Time
}

// New returns a demo carrier.
func New(opts Options) *Source {
	s := &Source{speed: opts.Speed, now: clock.OrReal(opts.Clock).Now}
	if !(s.speed > 0) || math.IsInf(s.speed, 1) {
		s.speed = 1
	}
	return s
}

// Fetch returns what the carrier reports for ref now: a Shipment with only Events set,
// in no particular order. Identifiers starting with NotFoundPrefix give an error
// wrapping references.ErrShipmentNotFound.
func (s *Source) Fetch(ctx context.Context, ref references.Reference) (*references.Shipment, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("demo fetch %s: %w", ref.ID, err)
	}
	kind, ident := ref.Identifier()
	if strings.HasPrefix(strings.ToUpper(ident), NotFoundPrefix) {
		return nil, fmt.Errorf("demo fetch %s: %s %s: %w", ref.ID, kind, ident, references.ErrShipmentNotFound)
	}
	v := planVoyage(&ref)
	return &references.Shipment{Events: v.events(s.SimulatedTime(ref.CreatedAt))}, nil
}

// maxSimulated bounds how far simulated time runs ahead, so that a huge speed cannot
// overflow a time.Duration; it is far beyond the end of any voyage.
const maxSimulated = 100 * 365 * 24 * time.Hour

// SimulatedTime is the simulated time of a reference created at start: start plus
// the real time elapsed since, times the speed. Before start it is start.
func (s *Source) SimulatedTime(start time.Time) time.Time {
	elapsed := s.now().Sub(start)
	if elapsed <= 0 {
		return start
	}
	scaled := float64(elapsed) * s.speed
	if scaled >= float64(maxSimulated) {
		return start.Add(maxSimulated)
	}
	return start.Add(time.Duration(scaled))
}
