// Package keyuse records when each API key was last used without writing anything on
// a request's path. Seen notes a use in memory; every minute the uses noted since are
// written in one transaction (one fsync for every key used meanwhile). A key whose
// stored time is less than a minute old is not even noted, so each key is written at
// most about once a minute however busy it is, and the stored time lags the truth by
// at most about two minutes. Stop writes what is still noted.
//
// It runs on internal/workloop like retention, with the same clock and Start/Stop.
package keyuse

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/workloop"
	"github.com/trackhook/trackhook/references"
)

// Store is what the Recorder needs: references.AccountStore's RecordAPIKeyUse.
type Store interface {
	RecordAPIKeyUse(ctx context.Context, uses []references.APIKeyUse) error
}

// DefaultEvery is how often noted uses are written, and how old a key's stored time
// must be before a use of it is noted again.
const DefaultEvery = time.Minute

// Options configures a Recorder. Zero values take the defaults.
type Options struct {
	Every  time.Duration // DefaultEvery
	Clock  clock.Clock
	Logger *slog.Logger
}

// Recorder notes key uses and writes them in the background. Seen is safe for
// concurrent use; Start it once, and Stop it to write the last uses.
type Recorder struct {
	store Store
	opts  Options
	loop  *workloop.Loop[[]references.APIKeyUse]

	mu      sync.Mutex
	pending map[string]time.Time // key hash -> latest use not yet written
}

// New returns a Recorder over store; it writes nothing until Start (or Flush).
func New(store Store, opts Options) *Recorder {
	if opts.Every <= 0 {
		opts.Every = DefaultEvery
	}
	opts.Clock = clock.OrReal(opts.Clock)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{store: store, opts: opts, pending: map[string]time.Time{}}
	r.loop = workloop.New(workloop.Config[[]references.APIKeyUse]{
		Name: "keyuse",
		// The work due at each tick is one write of everything noted since the last.
		Claim: func(context.Context, int) ([][]references.APIKeyUse, error) {
			if uses := r.take(); len(uses) > 0 {
				return [][]references.APIKeyUse{uses}, nil
			}
			return nil, nil
		},
		Work:     r.write,
		Release:  r.write, // Stop came first: write it all the same
		Workers:  1,
		Queue:    2,
		Schedule: workloop.Every(opts.Every),
		Clock:    opts.Clock,
		Logger:   opts.Logger,
	})
	return r
}

// Seen notes that key authenticated a request at at (references.ServiceOptions.KeyUsed).
// It takes a lock and returns: nothing is written here.
func (r *Recorder) Seen(key references.APIKey, at time.Time) {
	if key.LastUsedAt != nil && at.Sub(*key.LastUsedAt) < r.opts.Every {
		return // written recently enough
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.pending[key.Hash]; !ok || at.After(prev) {
		r.pending[key.Hash] = at
	}
}

// Start writes noted uses every Options.Every until Stop.
func (r *Recorder) Start(ctx context.Context) { r.loop.Start(ctx) }

// Stop stops the schedule, waits for a write under way until ctx is done, and writes
// what was noted since.
func (r *Recorder) Stop(ctx context.Context) {
	r.loop.Stop(ctx)
	if err := r.Flush(ctx); err != nil {
		r.opts.Logger.Error("writing when API keys were last used, at shutdown", "err", err)
	}
}

// Flush writes what is noted now, in one call to the store. On failure the uses are
// noted again, for the next write.
func (r *Recorder) Flush(ctx context.Context) error { return r.record(ctx, r.take()) }

// write is the loop's work: the uses a scan took, written as Flush writes them.
func (r *Recorder) write(ctx context.Context, uses []references.APIKeyUse) {
	if err := r.record(ctx, uses); err != nil {
		r.opts.Logger.Error("writing when API keys were last used; tried again at the next tick", "keys", len(uses), "err", err)
	}
}

func (r *Recorder) record(ctx context.Context, uses []references.APIKeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	if err := r.store.RecordAPIKeyUse(ctx, uses); err != nil {
		r.putBack(uses)
		return err
	}
	return nil
}

// take empties the noted uses and returns them.
func (r *Recorder) take() []references.APIKeyUse {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) == 0 {
		return nil
	}
	uses := make([]references.APIKeyUse, 0, len(r.pending))
	for hash, at := range r.pending {
		uses = append(uses, references.APIKeyUse{Hash: hash, At: at})
	}
	clear(r.pending)
	return uses
}

// putBack notes uses that could not be written again, unless a later use of the same
// key was noted meanwhile.
func (r *Recorder) putBack(uses []references.APIKeyUse) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, u := range uses {
		if prev, ok := r.pending[u.Hash]; !ok || u.At.After(prev) {
			r.pending[u.Hash] = u.At
		}
	}
}
