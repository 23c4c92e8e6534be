package storecopy

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/trackhook/trackhook/references"
)

// Backend is a store a copy reads from or writes to: the bbolt store and the
// PostgreSQL one implement it.
type Backend interface {
	// Dump calls emit with every record of the store, from one consistent read, kind
	// by kind in the order of Kinds (the updates of a reference together, in sequence
	// order). An error from emit stops it and is returned as it is.
	Dump(ctx context.Context, emit func(Record) error) error
	// Load writes records, in the order a Dump emits them, into the store, which is
	// empty; it derives what the records leave out (indexes, counts). It stops at the
	// first error the sequence yields and returns it. A load that fails may leave
	// part of the records written.
	Load(ctx context.Context, records iter.Seq2[Record, error]) error
	// Stats are the store's counts, compared on both sides after the copy.
	Stats(ctx context.Context) (references.Stats, error)
}

// NotEmptyError is returned by Copy when the destination holds records already.
type NotEmptyError struct {
	Kind Kind // the first kind of record found
}

func (e *NotEmptyError) Error() string {
	return fmt.Sprintf("the destination is not empty (it holds %s): copy into a new store", e.Kind)
}

// MismatchError is returned by Copy when the destination, read back, differs from
// the source.
type MismatchError struct {
	What string // one sentence saying what differs
}

func (e *MismatchError) Error() string { return "verification failed: " + e.What }

// Report says what a copy moved and how it was verified.
type Report struct {
	// Counts is how many records of each kind were copied (and found again in the
	// destination), in the order of Kinds.
	Counts []KindCount
	// Feeds is how many references' feeds were compared by their SHA-256.
	Feeds int
	// Stats are the destination's counts, equal to the source's.
	Stats references.Stats
	Took  time.Duration
}

// KindCount is how many records of a kind.
type KindCount struct {
	Kind  Kind
	Count int64
}

// errStopped ends a dump whose reader stopped early.
var errStopped = errors.New("the reader stopped")

// Copy copies every record of from into to, which must be empty, then verifies the
// copy: to is dumped in its turn and must give the same count and checksum of every
// kind of record and the same SHA-256 of every reference's feed, and the same Stats.
// Both stores must be closed to every other writer (the service stopped) for the
// whole copy. It returns a *NotEmptyError when to holds records, a *MismatchError
// when the verification fails.
func Copy(ctx context.Context, from, to Backend) (Report, error) {
	started := time.Now()
	if err := checkEmpty(ctx, to); err != nil {
		return Report{}, err
	}
	src := newSummary()
	var dumpErr error
	complete := false
	records := func(yield func(Record, error) bool) {
		stopped := false
		err := from.Dump(ctx, func(r Record) error {
			if err := src.add(r); err != nil {
				return err
			}
			if !yield(r, nil) {
				stopped = true
				return errStopped
			}
			return nil
		})
		switch {
		case stopped:
		case err != nil:
			dumpErr = err
			yield(nil, fmt.Errorf("read the source: %w", err))
		default:
			complete = true
		}
	}
	if err := to.Load(ctx, records); err != nil {
		if dumpErr != nil {
			return Report{}, fmt.Errorf("read the source: %w", dumpErr)
		}
		return Report{}, fmt.Errorf("write the destination: %w", err)
	}
	if !complete {
		return Report{}, errors.New("write the destination: the load stopped before the end of the source")
	}
	src.finish()
	dst := newSummary()
	if err := to.Dump(ctx, dst.add); err != nil {
		return Report{}, fmt.Errorf("read the destination back: %w", err)
	}
	dst.finish()
	if what := compare(src, dst); what != "" {
		return Report{}, &MismatchError{What: what}
	}
	stats, err := compareStats(ctx, from, to)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Feeds: len(src.feeds), Stats: stats, Took: time.Since(started)}
	for _, k := range Kinds {
		rep.Counts = append(rep.Counts, KindCount{Kind: k, Count: src.kinds[k].count})
	}
	return rep, nil
}

// checkEmpty returns a *NotEmptyError when b holds any record but the zero Retention
// every store has.
func checkEmpty(ctx context.Context, b Backend) error {
	err := b.Dump(ctx, func(r Record) error {
		if ret, ok := r.(Retention); ok && ret.Pruned == (references.PruneCounts{}) && ret.LastPruneAt == nil {
			return nil
		}
		return &NotEmptyError{Kind: r.Kind()}
	})
	var ne *NotEmptyError
	if err != nil && !errors.As(err, &ne) {
		return fmt.Errorf("read the destination: %w", err)
	}
	return err
}

// compareStats compares the counts both stores keep (those a load derives from the
// records: active, unsubscribed, pending streams; and retention's) and returns the
// destination's.
func compareStats(ctx context.Context, from, to Backend) (references.Stats, error) {
	a, err := from.Stats(ctx)
	if err != nil {
		return references.Stats{}, fmt.Errorf("read the source's counts: %w", err)
	}
	b, err := to.Stats(ctx)
	if err != nil {
		return references.Stats{}, fmt.Errorf("read the destination's counts: %w", err)
	}
	for _, c := range []struct {
		name string
		a, b int64
	}{
		{"active references", a.ActiveReferences, b.ActiveReferences},
		{"unsubscribed references", a.UnsubscribedReferences, b.UnsubscribedReferences},
		{"pending delivery streams", a.PendingDeliveries, b.PendingDeliveries},
	} {
		if c.a != c.b {
			return b, &MismatchError{What: fmt.Sprintf("%s: %d in the source's counts, %d in the destination's", c.name, c.a, c.b)}
		}
	}
	if a.Pruned != b.Pruned || !sameTime(a.LastPruneAt, b.LastPruneAt) {
		return b, &MismatchError{What: fmt.Sprintf("retention's counts: %+v (last %v) in the source, %+v (last %v) in the destination",
			a.Pruned, a.LastPruneAt, b.Pruned, b.LastPruneAt)}
	}
	return b, nil
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return micro(*a).Equal(micro(*b))
}
