package main

import (
	"context"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/trackhook/trackhook/references"
)

// The tool's own share of a poll's CPU time.
//
// The demo carrier runs in the tool's process: every poll of the stepping source
// (source.go) asks the demo for the voyage step after step until something changed,
// and fingerprints each answer. That is the carrier's work, which a real carrier does
// on its own machine, and it is counted in the process's CPU time with the service's.
// The poll phases start no receiver work and no notifier, so the carrier is the only
// large share of the tool in them (the progress line and the poll counters are a few
// nanoseconds a poll).
//
// The tool's share is measured by replaying: while the changed polls are measured, the
// source keeps a uniform sample of the fetches it answered (the reference, and where
// its voyage stood); once the pollers are stopped, the same fetches are made again on
// one goroutine, with nothing else running, and the process's CPU time over them
// (garbage collection of what they allocate included) divided by their number is the
// carrier's CPU time per fetch. Times the fetches of the phase over its polls, it is
// the tool's share of a poll; the service's is the rest. Replayed alone, the fetches
// run with warmer caches than among the polls, so if anything the tool's share is
// counted short and the service's long: the ceiling is not flattered.

// fetchSampleSize is how many fetches the replay makes at most.
const fetchSampleSize = 4096

// fetchState is where a reference's voyage stood when the source was asked for it.
type fetchState struct {
	ref     references.Reference
	k       int
	fp      uint64
	advance bool
}

// fetchSample keeps a uniform sample of the fetches made (reservoir sampling) and
// counts them all. Its owner's lock guards it.
type fetchSample struct {
	seen int64
	kept []fetchState
	rand *rand.Rand
}

func newFetchSample() *fetchSample {
	return &fetchSample{rand: rand.New(rand.NewPCG(1, 2))}
}

func (f *fetchSample) add(s fetchState) {
	f.seen++
	if len(f.kept) < fetchSampleSize {
		f.kept = append(f.kept, s)
		return
	}
	if i := f.rand.Int64N(f.seen); i < fetchSampleSize {
		f.kept[i] = s
	}
}

// startSample starts keeping a sample of the fetches.
func (s *stepSource) startSample() {
	s.mu.Lock()
	s.sample = newFetchSample()
	s.mu.Unlock()
}

// stopSample stops sampling and returns the sample.
func (s *stepSource) stopSample() *fetchSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.sample
	s.sample = nil
	return f
}

// replayCPU makes the sampled fetches again and returns the process's CPU time per
// fetch. Run it when nothing else in the process works.
func (s *stepSource) replayCPU(ctx context.Context, f *fetchSample) (time.Duration, error) {
	if f == nil || len(f.kept) == 0 {
		return 0, nil
	}
	// Repeat the sample until it has taken a measurable time: getrusage counts in
	// microseconds, and a round of the sample may take a few milliseconds only.
	var n int64
	start, cpu0 := time.Now(), cpuTime()
	for n == 0 || time.Since(start) < 200*time.Millisecond {
		for _, st := range f.kept {
			if _, _, _, err := s.next(ctx, st.ref, st.k, st.fp, st.advance); err != nil {
				return 0, err
			}
		}
		n += int64(len(f.kept))
	}
	runtime.KeepAlive(f)
	return (cpuTime() - cpu0) / time.Duration(n), nil
}
