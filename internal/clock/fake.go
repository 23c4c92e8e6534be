package clock

import (
	"sort"
	"sync"
	"time"
)

// Fake is a Clock for tests: its time moves only with Set and Advance, and its timers
// fire when the time passes their deadline. It is safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

// NewFake returns a Fake clock that reads start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the time forward by d and fires the timers that are due.
func (f *Fake) Advance(d time.Duration) { f.Set(f.Now().Add(d)) }

// Set moves the time to t (never backwards) and fires the timers that are due, in
// deadline order.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	if t.After(f.now) {
		f.now = t
	}
	now := f.now
	var due []*fakeTimer
	kept := f.timers[:0]
	for _, tm := range f.timers {
		if !tm.deadline.After(now) {
			due = append(due, tm)
		} else {
			kept = append(kept, tm)
		}
	}
	f.timers = kept
	f.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].deadline.Before(due[j].deadline) })
	for _, tm := range due {
		select {
		case tm.c <- now:
		default: // a timer's channel holds one value, as time.Timer's does
		}
	}
}

// Timers returns how many timers are waiting: a test can wait until the code under
// test has armed its timer before advancing the clock.
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// NewTimer returns a timer that fires when the fake time reaches d from now.
func (f *Fake) NewTimer(d time.Duration) Timer {
	tm := &fakeTimer{clock: f, c: make(chan time.Time, 1)}
	tm.Reset(d)
	return tm
}

type fakeTimer struct {
	clock    *Fake
	c        chan time.Time
	deadline time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, tm := range f.timers {
		if tm == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			return true
		}
	}
	return false
}

func (t *fakeTimer) Reset(d time.Duration) {
	t.Stop()
	f := t.clock
	f.mu.Lock()
	t.deadline = f.now.Add(d)
	if d <= 0 {
		f.mu.Unlock()
		select {
		case t.c <- t.deadline:
		default:
		}
		return
	}
	f.timers = append(f.timers, t)
	f.mu.Unlock()
}
