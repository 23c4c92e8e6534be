package inflight

import "testing"

func TestSet_OneClaimAtATime(t *testing.T) {
	s := New()
	m := s.Scan()
	if !s.Claim("a", m) || s.Claim("a", m) || s.Len() != 1 {
		t.Fatal("a key was claimed twice")
	}
	s.Unclaim("a")
	if !s.Claim("a", m) {
		t.Fatal("an unclaimed key cannot be claimed again")
	}
	s.EndScan(m)
}

func TestSet_StaleListDoesNotRequeueWorkThatEnded(t *testing.T) {
	s := New()
	first := s.Scan()
	s.Claim("a", first)
	s.EndScan(first)

	stale := s.Scan() // reads "a" as due while its work is still under way
	s.Release("a")    // ... and the work ends before the scan queues
	if s.Claim("a", stale) {
		t.Fatal("a scan queued a key from a list read before its work ended")
	}
	s.EndScan(stale)

	fresh := s.Scan() // a list read after the work ended is right about it
	if !s.Claim("a", fresh) {
		t.Fatal("a fresh scan cannot claim the key")
	}
	s.EndScan(fresh)
	if len(s.endedAt) != 0 {
		t.Fatalf("end records kept with no scan running: %v", s.endedAt)
	}
}
