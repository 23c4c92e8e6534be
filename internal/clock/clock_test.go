package clock

import (
	"testing"
	"time"
)

func TestFake_TimersFireWhenTheTimePassesTheirDeadline(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewFake(start)
	early, late := c.NewTimer(time.Second), c.NewTimer(time.Minute)
	if got := c.Timers(); got != 2 {
		t.Fatalf("Timers() = %d, want 2", got)
	}
	c.Advance(30 * time.Second)
	select {
	case at := <-early.C():
		if !at.Equal(start.Add(30 * time.Second)) {
			t.Errorf("fired with %v, want the time it was advanced to", at)
		}
	default:
		t.Fatal("the 1s timer did not fire after 30s")
	}
	select {
	case <-late.C():
		t.Fatal("the 1m timer fired after 30s")
	default:
	}
	if late.Stop() != true {
		t.Error("Stop of a pending timer = false")
	}
	c.Advance(time.Hour)
	select {
	case <-late.C():
		t.Fatal("a stopped timer fired")
	default:
	}
	late.Reset(time.Second)
	c.Advance(time.Second)
	select {
	case <-late.C():
	default:
		t.Fatal("a reset timer did not fire")
	}
	c.Set(start) // never backwards
	if !c.Now().Equal(start.Add(30*time.Second + time.Hour + time.Second)) {
		t.Errorf("Set moved the time backwards to %v", c.Now())
	}
	zero := c.NewTimer(0)
	select {
	case <-zero.C():
	default:
		t.Fatal("a timer of 0 did not fire at once")
	}
}
