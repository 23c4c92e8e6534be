package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/retention"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
)

// The voyage phase: the store's size after every reference has been tracked through
// its whole demo voyage, with retention as `trackhook serve` runs it by default.
//
// Simulated time runs in rounds of --step on one fake clock, which the demo carrier
// and the poller both read: the updates, the unsubscribes and retention's cutoffs
// carry simulated times. At each round the tool asks the demo for every reference
// still tracked at that moment and, when the answer differs from the last one in what
// the poller's diff looks at, has the poller poll the reference (PollOne), the fetch
// answering with that same shipment: a poll at every change at the granularity of
// --step, without the polls that would find nothing (they write nothing). The poller
// ends tracking at the voyage's terminal event, as it does in production. After each
// round, retention prunes through the same call `trackhook serve` makes
// (internal/retention's Prune), with --voyage-retention for the feed, the delivery log
// and unsubscribed references. The phase ends when the last voyage has ended (or after
// voyageMaxDays): then the store is closed and its file is read with bbolt's own
// statistics.
// The store commits without fsync (as the tool's set-up writes do): what it holds is
// the same, and the phase is not slowed by the disk.
//
// The references have no callback: every update counts as delivered, so retention may
// delete it once old enough, as it would once delivered.

// batchWorkers is how many polls the tool runs at once where the polls are not what
// is measured (set-up polls, the voyage phase's rounds): they commit together (the
// store's group commit), and many at once keep the commits few and large, as under
// load, rather than one small commit a poll.
const batchWorkers = 256

// voyageMaxDays bounds the simulated time of the phase: past it, the voyages left are
// counted as not ended. Demo voyages take 20 to 70 days.
const voyageMaxDays = 120

// voyageFigures are the voyage phase's results.
type voyageFigures struct {
	References int     `json:"references"`
	Step       string  `json:"step"`
	Retention  string  `json:"retention"`
	Rounds     int     `json:"rounds"`    // steps of simulated time until the last voyage ended
	Days       int     `json:"days"`      // simulated days that took
	Seconds    float64 `json:"seconds"`   // of wall time, the creation of the references left out
	Polls      rate    `json:"polls"`     // the polls made, each at a change
	Ended      int64   `json:"ended"`     // voyages whose tracking ended
	NotEnded   int64   `json:"not_ended"` // still tracked after voyageMaxDays
	// Updates appended in all; UpdatesPruned deleted by retention (those of the
	// deleted references included); UpdatesKept the rest.
	Updates       int64 `json:"updates"`
	UpdatesPruned int64 `json:"updates_pruned"`
	UpdatesKept   int64 `json:"updates_kept"`
	// ReferencesPruned were unsubscribed longer ago than the retention when the last
	// voyage ended, and deleted; ReferencesKept are still in the store.
	ReferencesPruned int64 `json:"references_pruned"`
	ReferencesKept   int64 `json:"references_kept"`
	// FileBytes is the file's size; InuseBytes what bbolt's pages hold (keys,
	// values and page headers of every bucket: bbolt's BucketStats, LeafInuse +
	// BranchInuse); AllocBytes the pages the buckets take; UnusedBytes the rest of
	// the file: free pages, and the room bbolt grew the file by ahead of need.
	FileBytes   int64 `json:"file_bytes"`
	InuseBytes  int64 `json:"inuse_bytes"`
	AllocBytes  int64 `json:"alloc_bytes"`
	UnusedBytes int64 `json:"unused_bytes"`
	// Per reference kept, and per update kept (every byte in use over the updates,
	// the snapshots and references included: see Buckets for the split).
	FileBytesPerRef  float64 `json:"file_bytes_per_reference"`
	InuseBytesPerRef float64 `json:"inuse_bytes_per_reference"`
	InuseBytesPerUpd float64 `json:"inuse_bytes_per_update"`
	// Buckets are the store's top-level buckets, largest first.
	Buckets []bucketSize `json:"buckets"`
	// File is the file sampled during the voyage (voyage_file.go).
	File *fileTrace `json:"file,omitempty"`
}

// bucketSize is one bucket's share of the file, its nested buckets included.
type bucketSize struct {
	Name       string `json:"name"`
	Keys       int    `json:"keys"`
	InuseBytes int64  `json:"inuse_bytes"`
	AllocBytes int64  `json:"alloc_bytes"`
}

// runVoyage runs the voyage phase on a fresh bbolt store.
func runVoyage(ctx context.Context, cfg config, st storage, prog *progress) (f voyageFigures, err error) {
	bb, ok := st.(bboltStorage)
	if !ok {
		return f, errors.New("the voyage phase measures a bbolt file: not with --db")
	}
	f.References, f.Step, f.Retention = cfg.voyageRefs, cfg.step.String(), cfg.voyageRetention.String()
	prog.begin("voyage: create")
	var ids []string
	err = prepare(ctx, st, "voyage", func(db benchStore) error {
		var err error
		ids, err = seed(ctx, db, cfg.voyageRefs, cfg.accounts, "", prog)
		return err
	})
	if err != nil {
		return f, err
	}
	// Without fsync, as for the set-up writes: the phase measures what the store
	// holds, not how fast it commits, and the file is the same.
	db, err := st.open(ctx, "voyage", true)
	if err != nil {
		return f, err
	}
	closed := false
	defer func() {
		if !closed {
			err = errors.Join(err, db.Close())
		}
	}()

	// seed gives every reference the same creation time: the demo's start of every
	// voyage, and the simulated clock's.
	first, err := db.GetReference(ctx, accountOf(0, cfg.accounts), ids[0])
	if err != nil {
		return f, err
	}
	v := &voyage{
		clk: clock.NewFake(first.CreatedAt), t0: first.CreatedAt, created: first.CreatedAt,
		last: make([]uint64, len(ids)), ended: make([]bool, len(ids)),
		pending: map[string]*references.Shipment{}, unsubscribed: map[string]bool{},
	}
	p, err := poller.New(db, poller.Options{
		Router:          poller.Router{Default: v},
		Workers:         cfg.pollWorkers,
		DefaultInterval: cfg.step,
		Clock:           v.clk,
		Observe: func(rep poller.PollReport) {
			v.polls.observe(rep)
			if rep.Outcome == "unsubscribed" {
				v.mu.Lock()
				v.unsubscribed[rep.ReferenceID] = true
				v.mu.Unlock()
			}
		},
	})
	if err != nil {
		return f, err
	}
	// Prune logs a failed prune and goes on, as the service must; the phase fails.
	pruneErrs := &errorLog{}
	pruner := retention.New(db, retention.Options{
		Keep: cfg.voyageRetention, KeepDeliveryLog: cfg.voyageRetention, KeepUnsubscribed: cfg.voyageRetention, Clock: v.clk,
		Logger: slog.New(pruneErrs),
	})

	prog.begin("voyage: polls")
	stopProfile, err := cfg.profile("voyage")
	if err != nil {
		return f, err
	}
	fdb, ok := db.(fileStatser)
	if !ok {
		return f, fmt.Errorf("the voyage phase samples a bbolt file: %T does not read its statistics", db)
	}
	f.File = &fileTrace{}
	start, cpu0 := time.Now(), markCPU(st)
	// sample reads the file after the polls or the prune of a round, its CPU time
	// left out of the phase's.
	sample := func(after string, deep bool) error {
		d, err := f.File.sample(fdb, int(v.clk.Now().Sub(v.t0)/(24*time.Hour)), after, deep)
		cpu0.proc += d
		return err
	}
	if err := sample("prune", true); err != nil {
		return f, err
	}
	var left atomic.Int64
	left.Store(int64(len(ids)))
	prog.show(func() string {
		return fmt.Sprintf("day %d, %d voyages under way, %d polls, %d updates",
			int(v.clk.Now().Sub(v.t0)/(24*time.Hour)), left.Load(), v.polls.total.Load(), v.polls.updates.Load())
	})
	for f.Rounds = 1; left.Load() > 0; f.Rounds++ {
		at := v.t0.Add(time.Duration(f.Rounds) * cfg.step)
		if at.Sub(v.t0) > voyageMaxDays*24*time.Hour {
			break
		}
		v.clk.Set(at)
		if err := v.round(ctx, p, ids, batchWorkers, &left); err != nil {
			return f, err
		}
		if err := sample("polls", false); err != nil {
			return f, err
		}
		pruner.Prune(ctx, at)
		if err := errors.Join(ctx.Err(), pruneErrs.first()); err != nil {
			return f, err
		}
		if err := sample("prune", f.Rounds%deepEvery == 0); err != nil {
			return f, err
		}
	}
	f.Rounds--
	if err := stopProfile(); err != nil {
		return f, err
	}
	f.Days = int(v.clk.Now().Sub(v.t0) / (24 * time.Hour))
	f.Seconds = time.Since(start).Seconds()
	f.Polls = newRate(v.polls.total.Load(), time.Since(start))
	cpu0.fill(&f.Polls)
	f.Ended, f.NotEnded = int64(len(ids))-left.Load(), left.Load()
	f.Updates = v.polls.updates.Load()

	stats, err := db.Stats(ctx)
	if err != nil {
		return f, err
	}
	f.UpdatesPruned = stats.Pruned.Updates
	f.UpdatesKept = f.Updates - f.UpdatesPruned
	f.ReferencesPruned = stats.Pruned.References
	f.ReferencesKept = stats.ActiveReferences + stats.UnsubscribedReferences
	closed = true
	if err := db.Close(); err != nil {
		return f, err
	}
	prog.begin("voyage: file stats")
	if err := f.readFile(bb.path("voyage")); err != nil {
		return f, err
	}
	if f.ReferencesKept > 0 {
		f.FileBytesPerRef = float64(f.FileBytes) / float64(f.ReferencesKept)
		f.InuseBytesPerRef = float64(f.InuseBytes) / float64(f.ReferencesKept)
	}
	if f.UpdatesKept > 0 {
		f.InuseBytesPerUpd = float64(f.InuseBytes) / float64(f.UpdatesKept)
	}
	return f, nil
}

// readFile reads the closed store's size and bbolt's statistics of its buckets.
func (f *voyageFigures) readFile(path string) error {
	s, err := store.ReadFileStats(path)
	if err != nil {
		return err
	}
	f.FileBytes, f.InuseBytes, f.AllocBytes = s.FileBytes, s.InuseBytes, s.AllocBytes
	f.Buckets = bucketSizes(s.Buckets)
	f.UnusedBytes = f.FileBytes - f.AllocBytes
	sort.Slice(f.Buckets, func(i, j int) bool { return f.Buckets[i].InuseBytes > f.Buckets[j].InuseBytes })
	return nil
}

// voyage is the demo carrier of the voyage phase, at the phase's simulated time: the
// tool asks it for every reference at each round, and the poller's fetch of a
// reference that changed gets the same answer.
type voyage struct {
	clk     *clock.Fake
	t0      time.Time // the start of the phase's simulated time
	created time.Time // of every reference
	polls   pollCounts

	mu           sync.Mutex
	pending      map[string]*references.Shipment // asked for by the tool, for the poll under way
	unsubscribed map[string]bool                 // the poll under way ended tracking

	// By the index of the reference in the phase's list: the fingerprint of the last
	// answer, and whether its tracking ended. Each index is one worker's at a time.
	last  []uint64
	ended []bool
}

// Fetch returns the shipment the tool found for the reference at this round, or asks
// the demo carrier when there is none (a poll the tool did not ask for).
func (v *voyage) Fetch(ctx context.Context, ref references.Reference) (*references.Shipment, error) {
	v.mu.Lock()
	sh, ok := v.pending[ref.ID]
	delete(v.pending, ref.ID)
	v.mu.Unlock()
	if ok {
		return sh, nil
	}
	return demo.New(demo.Options{Speed: 1, Clock: v.clk}).Fetch(ctx, ref)
}

// round asks the demo for every reference still tracked at the clock's time and polls
// those whose answer changed, from workers goroutines; left counts the voyages not
// ended.
func (v *voyage) round(ctx context.Context, p *poller.Poller, ids []string, workers int, left *atomic.Int64) error {
	src := demo.New(demo.Options{Speed: 1, Clock: v.clk})
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	fail := func(err error) { once.Do(func() { firstErr = err }) }
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(ids) && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				if v.ended[i] {
					continue
				}
				if err := v.step(ctx, p, src, ids[i], i, left); err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(firstErr, ctx.Err())
}

// step asks the demo for the i-th reference and polls it when its answer changed.
func (v *voyage) step(ctx context.Context, p *poller.Poller, src *demo.Source, id string, i int, left *atomic.Int64) error {
	// The demo needs the reference's identifiers and creation time, which seed
	// gives every reference alike but for the container number.
	ref := references.Reference{ID: id, ContainerID: fmt.Sprintf("BNCU%07d", i), CarrierCode: demo.CarrierCode, CreatedAt: v.created}
	sh, err := src.Fetch(ctx, ref)
	if err != nil {
		return err
	}
	fp := fingerprint(sh.Events)
	if fp == v.last[i] {
		return nil
	}
	v.last[i] = fp
	v.mu.Lock()
	v.pending[id] = sh
	v.mu.Unlock()
	err = p.PollOne(ctx, id)
	v.mu.Lock()
	delete(v.pending, id)
	ended := v.unsubscribed[id]
	delete(v.unsubscribed, id)
	v.mu.Unlock()
	if errors.Is(err, references.ErrConflict) { // no longer active
		ended, err = true, nil
	}
	if ended {
		v.ended[i] = true
		left.Add(-1)
	}
	return err
}

// errorLog is a slog handler that keeps the first record logged at error level.
type errorLog struct {
	mu  sync.Mutex
	err error
}

func (l *errorLog) Enabled(_ context.Context, level slog.Level) bool { return level >= slog.LevelError }

func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		msg := r.Message
		r.Attrs(func(a slog.Attr) bool {
			msg += " " + a.String()
			return true
		})
		l.err = errors.New(msg)
	}
	return nil
}

func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler { return l }

func (l *errorLog) WithGroup(string) slog.Handler { return l }

// first returns the first error logged, or nil.
func (l *errorLog) first() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}
