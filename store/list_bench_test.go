package store

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// searchStore returns a store with n references of one account, written directly in
// large transactions: every tenth a bill of lading with two containers, every
// hundredth with metadata team=rare, all but every fiftieth with an ETA.
func searchStore(b *testing.B, n int) *DB {
	b.Helper()
	db, err := Open(filepath.Join(b.TempDir(), "search.db"), Options{NoSync: true, Clock: clock.NewFake(benchNow)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	for start := 0; start < n; start += 20_000 {
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			for i := start; i < min(n, start+20_000); i++ {
				ref := newRef("a", fmt.Sprintf("BNCH%07d", i), benchNow.Add(time.Duration(i)*time.Second))
				ref.CreatedAt = benchNow.Add(time.Duration(i) * time.Second)
				s := &references.Shipment{}
				if i%10 == 0 {
					ref.ContainerID, ref.BillOfLading = "", fmt.Sprintf("BOL%07d", i)
					s.Containers = []references.Container{{Number: fmt.Sprintf("CONT%07d", i)}, {Number: fmt.Sprintf("CONT%07d", i+1)}}
				}
				if i%100 == 0 {
					ref.Metadata = map[string]string{"team": "rare"}
				}
				if i%50 != 0 {
					eta := benchNow.Add(time.Duration((i*7919)%n) * time.Minute)
					s.ETA = &eta
				}
				kind, value := ref.Identifier()
				if err := tx.Bucket(bucketRefsByIdent).Put(identKey("a", string(kind), value, ref.CarrierCode), []byte(ref.ID)); err != nil {
					return err
				}
				if err := tx.Bucket(bucketRefsByAcct).Put(acctRefKey("a", ref.CreatedAt, ref.ID), nil); err != nil {
					return err
				}
				if err := putRef(tx, &ref); err != nil {
					return err
				}
				if err := addStatus(tx, "a", ref.Status, 1); err != nil {
					return err
				}
				if err := indexSnapshot(tx, &ref, s); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// BenchmarkListReferences reads filtered lists of 100 from an account of 100,000
// references: one op is the first page, or with "all pages" every page to the end.
func BenchmarkListReferences(b *testing.B) {
	const n = 100_000
	db := searchStore(b, n)
	ctx := context.Background()
	etaLo, etaHi := benchNow.Add(1000*time.Minute), benchNow.Add(1100*time.Minute) // about 100 references
	for _, bc := range []struct {
		name     string
		q        references.ListQuery
		allPages bool
	}{
		{"unfiltered", references.ListQuery{}, false},
		{"identifier exact", references.ListQuery{Identifier: "BNCH0050001"}, false},
		{"container in a BoL", references.ListQuery{Identifier: "CONT0050001"}, true},
		{"identifier prefix, all pages", references.ListQuery{Identifier: "BNCH00500*"}, true},
		{"metadata 1%, all pages", references.ListQuery{Metadata: map[string]string{"team": "rare"}}, true},
		{"sort eta", references.ListQuery{Sort: references.SortETA}, false},
		{"sort eta, all pages", references.ListQuery{Sort: references.SortETA}, true},
		{"eta window by eta (index)", references.ListQuery{Sort: references.SortETA, ETAAfter: &etaLo, ETABefore: &etaHi}, true},
		{"eta window by creation (scan), all pages", references.ListQuery{ETAAfter: &etaLo, ETABefore: &etaHi}, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q, err := bc.q.Normalize()
			if err != nil {
				b.Fatal(err)
			}
			q.Limit = 100
			found := 0
			for b.Loop() {
				found = 0
				q.Cursor = ""
				for {
					page, err := db.ListReferences(ctx, "a", q)
					if err != nil {
						b.Fatal(err)
					}
					found += len(page.References)
					if !bc.allPages || page.NextCursor == "" {
						break
					}
					q.Cursor = page.NextCursor
				}
			}
			b.ReportMetric(float64(found), "refs/op")
		})
	}
}

// BenchmarkCountReferences counts the statuses of an account of 10,000 references,
// the largest the console's shipments page is measured with: from the counts kept
// (what CountReferences does), and, for comparison, by walking the account's
// references reading each one's status alone, or decoding each whole.
func BenchmarkCountReferences(b *testing.B) {
	const n = 10_000
	db := searchStore(b, n)
	ctx := context.Background()
	b.Run("kept counts", func(b *testing.B) {
		for b.Loop() {
			counts, err := db.CountReferences(ctx, "a")
			if err != nil || counts[references.StatusActive] != n {
				b.Fatalf("counts %v, %v; want %d active", counts, err, n)
			}
		}
	})
	b.Run("scan, status alone", func(b *testing.B) {
		for b.Loop() {
			var counts map[references.Status]int64
			err := db.bolt.View(func(tx *bolt.Tx) error {
				var err error
				counts, err = scanStatuses(tx, "a")
				return err
			})
			if err != nil || counts[references.StatusActive] != n {
				b.Fatalf("counts %v, %v; want %d active", counts, err, n)
			}
		}
	})
	b.Run("scan, whole decode", func(b *testing.B) {
		for b.Loop() {
			counts := map[references.Status]int{}
			err := db.bolt.View(func(tx *bolt.Tx) error {
				c := tx.Bucket(bucketRefsByAcct).Cursor()
				prefix := str("a")
				for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
					var ref references.Reference
					if err := getRef(tx, "a", string(k[len(prefix)+8:]), &ref); err != nil {
						return err
					}
					counts[ref.Status]++
				}
				return nil
			})
			if err != nil || counts[references.StatusActive] != n {
				b.Fatalf("counts %v, %v; want %d active", counts, err, n)
			}
		}
	})
}

// BenchmarkShipmentsPage makes the store's reads of the console's shipments page for
// an account of 10,000 references: the counts, and a page of 50 with its summaries,
// unfiltered or late: a filter no index serves, which reads references until the page
// is full, all 10,000 when none is late (the worst case).
func BenchmarkShipmentsPage(b *testing.B) {
	const n = 10_000
	db := searchStore(b, n)
	ctx := context.Background()
	lateAt := benchNow.Add(time.Duration(n/2) * time.Minute) // half the ETAs have passed
	noneLate := benchNow.Add(-time.Hour)                     // no ETA has passed, none moved
	for _, bc := range []struct {
		name string
		q    references.ListQuery
		want int
	}{
		{"unfiltered", references.ListQuery{}, 50},
		{"late", references.ListQuery{LateAt: &lateAt}, 50},
		{"late, by ETA", references.ListQuery{LateAt: &lateAt, Sort: references.SortETA}, 50},
		{"late, none is", references.ListQuery{LateAt: &noneLate}, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q, err := bc.q.Normalize()
			if err != nil {
				b.Fatal(err)
			}
			q.Limit = 50
			for b.Loop() {
				if _, err := db.CountReferences(ctx, "a"); err != nil {
					b.Fatal(err)
				}
				page, err := db.ListReferences(ctx, "a", q)
				if err != nil || len(page.References) != bc.want || len(page.Summaries) != bc.want {
					b.Fatalf("%d references, %d summaries, %v; want %d of each", len(page.References), len(page.Summaries), err, bc.want)
				}
			}
		})
	}
}
