package main

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/idindex"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
)

// maxSteps bounds how far one poll moves a voyage on looking for a change; past the
// end of a voyage nothing changes any more.
const maxSteps = 64

// stepSource is the demo carrier running as fast as the poller polls: each poll of a
// reference sees its voyage step further on in simulated time, as many steps as it
// takes for the carrier to report something new. So every poll finds a change, as it
// would against a real carrier polled at a high speed, until the voyage ends and the
// poller unsubscribes the reference. With advance off, a poll sees the same moment as
// the one before it: nothing changes.
//
// It is the real demo carrier (poller/demo) underneath: each step asks it for the
// voyage at the reference's creation plus k steps.
type stepSource struct {
	step    time.Duration
	advance atomic.Bool

	mu sync.Mutex
	// ids numbers the references, clocks[number] is where each one's voyage stands:
	// kept without pointers, so that the collector does not trace a million of them
	// at a million references and charge the service for the tool's memory.
	ids    *idindex.Index
	clocks []voyageClock
	// sample, while set, keeps a uniform sample of the fetches made (see
	// fetchSample), for the tool to time its own share of a poll afterwards.
	sample *fetchSample
}

// voyageClock is where one reference's voyage stands: k steps, and the fingerprint of
// what the carrier reported there.
type voyageClock struct {
	k  int
	fp uint64
}

func newStepSource(step time.Duration) *stepSource {
	s := &stepSource{step: step, ids: idindex.New(0)}
	s.advance.Store(true)
	return s
}

// Fetch returns the reference's voyage at its next change (or at the same moment as
// the last poll when advance is off).
func (s *stepSource) Fetch(ctx context.Context, ref references.Reference) (*references.Shipment, error) {
	s.mu.Lock()
	ids := s.ids
	i, added := ids.Insert(ref.ID)
	if added { // a new number: the tool never deletes an id, so the next one
		s.clocks = append(s.clocks, voyageClock{})
	}
	k, fp := s.clocks[i].k, s.clocks[i].fp
	advance := s.advance.Load() || k == 0
	if s.sample != nil {
		s.sample.add(fetchState{ref: ref, k: k, fp: fp, advance: advance})
	}
	s.mu.Unlock()

	sh, k, fp, err := s.next(ctx, ref, k, fp, advance)
	if err != nil || !advance {
		return sh, err
	}
	s.mu.Lock()
	if s.ids == ids { // not forgotten meanwhile: i is still ref's
		s.clocks[i] = voyageClock{k: k, fp: fp}
	}
	s.mu.Unlock()
	return sh, nil
}

// next is the carrier's side of a fetch from where the reference's voyage stands (k
// steps, fingerprint fp): the same moment again, or, with advance, the next step that
// reports something new.
func (s *stepSource) next(ctx context.Context, ref references.Reference, k int, fp uint64, advance bool) (*references.Shipment, int, uint64, error) {
	if !advance {
		sh, err := s.at(ctx, ref, k)
		return sh, k, fp, err
	}
	var sh *references.Shipment
	for range maxSteps {
		k++
		var err error
		if sh, err = s.at(ctx, ref, k); err != nil {
			return nil, k, fp, err
		}
		if f := fingerprint(sh.Events); f != fp {
			fp = f
			break
		}
	}
	return sh, k, fp, nil
}

// forget drops what the source keeps per reference, so that the process's memory
// measured afterwards is the service's.
func (s *stepSource) forget() {
	s.mu.Lock()
	s.ids, s.clocks = idindex.New(0), nil
	s.mu.Unlock()
}

// at asks the demo carrier for the voyage k steps after the reference was created.
func (s *stepSource) at(ctx context.Context, ref references.Reference, k int) (*references.Shipment, error) {
	t := ref.CreatedAt.Add(time.Duration(k) * s.step)
	return demo.New(demo.Options{Speed: 1, Clock: clock.NewFake(t)}).Fetch(ctx, ref)
}

// fingerprint hashes what the poller's diff looks at in a list of events: not the
// event ids, which the demo changes on revisions the diff does not report, nor the
// difference between planned and estimated, which is no change at the same time.
func fingerprint(events []references.Event) uint64 {
	h := fnv.New64a()
	var buf [8]byte
	for _, e := range events {
		h.Write([]byte(e.Code))
		if e.Classifier == references.ClassifierActual {
			h.Write([]byte{'A'})
		} else {
			h.Write([]byte{'P'})
		}
		binary.BigEndian.PutUint64(buf[:], uint64(e.Time.UnixNano()))
		h.Write(buf[:])
		if e.Location != nil {
			h.Write([]byte(e.Location.UNLocode))
		}
		if e.TransportCall != nil {
			h.Write([]byte(e.TransportCall.VesselIMO))
			h.Write([]byte(e.TransportCall.Voyage))
		}
		h.Write([]byte{0})
	}
	return h.Sum64()
}
