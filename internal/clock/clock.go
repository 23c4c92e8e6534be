// Package clock is the one source of time for trackhook's background work: the
// scheduler, the notifier, retention, the source guard and the store's leases. The
// service runs on [Real]; tests run on [Fake], which moves only when told, so no test
// sleeps to wait for time to pass.
package clock

import "time"

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once, d from now.
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer that trackhook uses.
type Timer interface {
	// C delivers the time once the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was still pending.
	Stop() bool
	// Reset makes a stopped or fired timer fire d from now.
	Reset(d time.Duration)
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time   { return r.t.C }
func (r realTimer) Stop() bool            { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) { r.t.Reset(d) }

// OrReal returns c, or Real when c is nil: the default of every Options.Clock.
func OrReal(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}
