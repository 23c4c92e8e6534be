package store

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
)

var (
	sizeStep      = flag.Duration("bench.step", 24*time.Hour, "simulated time between two polls of a reference in BenchmarkStoreSize (trackhook-bench's --step)")
	sizeRetention = flag.Duration("bench.retention", 30*24*time.Hour, "how long BenchmarkStoreSize keeps updates (serve's --retention)")
)

// BenchmarkStoreSize measures the bytes a store takes per reference after a full
// voyage: -bench.refs references of the demo carrier (three containers for every bill
// of lading, which has 1 to 5; their ids, and so their voyages, are the same from run
// to run), all created at once, each polled by the real poller
// every -bench.step of simulated time (a fake clock) until its voyage ends and the
// poller unsubscribes it, with retention run at every step (updates older than
// -bench.retention are pruned). It runs once whatever b.N: use -benchtime 1x.
//
//	go test ./store -run '^$' -bench StoreSize -benchtime 1x -bench.refs 2000 -v
//
// It reports the file's size and the bytes the buckets' pages take (bbolt's
// Bucket.Stats: branch and leaf pages allocated, free pages left out), per reference
// and per update kept, the most the pages took after any step (all voyages start
// together, so their feeds are longest together; the file grows to hold that peak and
// never shrinks), and logs the pages of each bucket at the end.
func BenchmarkStoreSize(b *testing.B) {
	ctx := context.Background()
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	path := filepath.Join(b.TempDir(), "size.db")
	db, err := Open(path, Options{NoSync: true, Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.EnsureAccount(ctx, "a", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", start); err != nil {
		b.Fatal(err)
	}
	n := *benchRefs
	ids := make([]string, n)
	for i := range ids {
		next := start
		ref := references.Reference{
			ID: fmt.Sprintf("ref_size%022d", i), AccountID: "a", CarrierCode: demo.CarrierCode,
			Status: references.StatusActive, CreatedAt: start, UpdatedAt: start, NextPollAt: &next,
			PollInterval: references.Duration(15 * time.Minute), Metadata: map[string]string{"po": fmt.Sprint(4700 + i)},
		}
		if i%4 == 3 {
			ref.BillOfLading = fmt.Sprintf("MAEU%09d", i)
		} else {
			ref.ContainerID = fmt.Sprintf("SIZU%07d", i)
		}
		ids[i] = mustCreate(b, db, ref).ID
	}
	p, err := poller.New(db, poller.Options{
		Router: poller.Router{Default: demo.New(demo.Options{Speed: 1, Clock: clk})},
		Clock:  clk, Owner: "size",
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	active := ids
	steps := 0
	var peak int64 // the most bytes the buckets' pages took after a step
	for ; len(active) > 0 && steps < 200; steps++ {
		clk.Set(start.Add(time.Duration(steps) * *sizeStep))
		if active, err = pollAll(ctx, db, p, active); err != nil {
			b.Fatal(err)
		}
		for {
			got, err := db.Prune(ctx, references.PruneRequest{Updates: clk.Now().Add(-*sizeRetention), Max: 10_000})
			if err != nil {
				b.Fatal(err)
			}
			if got.Updates < 10_000 {
				break
			}
		}
		b.StopTimer()
		pages, _, _, err := bucketPages(db)
		if err != nil {
			b.Fatal(err)
		}
		peak = max(peak, pages)
		b.StartTimer()
	}
	b.StopTimer()
	if len(active) > 0 {
		b.Fatalf("%d voyages still under way after %d steps", len(active), steps)
	}
	reportSize(b, db, n, steps)
	b.ReportMetric(float64(peak)/float64(n), "peak-pages-B/ref")
}

// bucketPages returns the bytes of the pages of every bucket, and the updates with
// the bytes of the pages of the feed.
func bucketPages(db *DB) (total, updates, updateBytes int64, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			s := bk.Stats()
			alloc := int64(s.BranchAlloc + s.LeafAlloc)
			total += alloc
			if string(name) == string(bucketUpdates) {
				updates, updateBytes = int64(s.KeyN), alloc
			}
			return nil
		})
	})
	return total, updates, updateBytes, err
}

// pollAll polls every reference of ids once, from a few goroutines (their records
// are committed together), and returns those still active.
func pollAll(ctx context.Context, db *DB, p *poller.Poller, ids []string) ([]string, error) {
	const workers = 8
	var (
		mu    sync.Mutex
		still []string
		errs  []error
		wg    sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(ids); i += workers {
				err := p.PollOne(ctx, ids[i])
				if err == nil {
					var ref references.Reference
					ref, err = db.ReferenceByID(ctx, ids[i])
					if err == nil && ref.Active() {
						mu.Lock()
						still = append(still, ids[i])
						mu.Unlock()
					}
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	slices.Sort(still)
	return still, nil
}

// reportSize reports the store's bytes per reference and per update kept.
func reportSize(b *testing.B, db *DB, refs, steps int) {
	var total, updates, updateBytes int64
	type row struct {
		name                          string
		keys, leafAlloc, leafInuse    int
		branchAlloc, overflow, leaves int
	}
	var rows []row
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			s := bk.Stats()
			alloc := int64(s.BranchAlloc + s.LeafAlloc)
			total += alloc
			if string(name) == string(bucketUpdates) {
				updates, updateBytes = int64(s.KeyN), alloc
			}
			rows = append(rows, row{string(name), s.KeyN, s.LeafAlloc, s.LeafInuse, s.BranchAlloc, s.LeafOverflowN, s.LeafPageN})
			return nil
		})
	})
	if err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(db.Path())
	if err != nil {
		b.Fatal(err)
	}
	slices.SortFunc(rows, func(x, y row) int { return (y.leafAlloc + y.branchAlloc) - (x.leafAlloc + x.branchAlloc) })
	b.Logf("%d references, %d steps, %d updates kept, file %d bytes, pages of buckets %d bytes", refs, steps, updates, fi.Size(), total)
	b.Logf("%-24s %9s %12s %12s %10s %8s %8s", "bucket", "keys", "leaf alloc", "leaf in use", "branch", "leaves", "overflow")
	for _, r := range rows {
		if r.leafAlloc+r.branchAlloc == 0 {
			continue
		}
		b.Logf("%-24s %9d %12d %12d %10d %8d %8d", r.name, r.keys, r.leafAlloc, r.leafInuse, r.branchAlloc, r.leaves, r.overflow)
	}
	b.ReportMetric(float64(fi.Size())/float64(refs), "file-B/ref")
	b.ReportMetric(float64(total)/float64(refs), "pages-B/ref")
	b.ReportMetric(float64(updates)/float64(refs), "updates/ref")
	if updates > 0 {
		b.ReportMetric(float64(updateBytes)/float64(updates), "feed-B/update")
	}
}
