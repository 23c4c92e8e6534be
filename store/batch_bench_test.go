package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// BenchmarkCreateReferences1000 creates batches of 1,000 references, with fsync as in
// production, in a store that grows by 1,000 each iteration: one op is one batch.
func BenchmarkCreateReferences1000(b *testing.B) {
	ctx := context.Background()
	clk := clock.NewFake(benchNow)
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	n := 0
	batch := func() []references.BatchItem {
		items := make([]references.BatchItem, 1000)
		for i := range items {
			n++
			next := benchNow
			items[i].Reference = references.Reference{
				ID: references.NewID("ref_"), AccountID: "acct_bench", ContainerID: fmt.Sprintf("MSCU%07d", n),
				CarrierCode: "MSCU", CallbackURL: "https://example.com/hooks/" + fmt.Sprint(n%7),
				Metadata: map[string]string{"po": fmt.Sprint(n)}, PollInterval: references.Duration(15 * time.Minute),
				Status: references.StatusActive, CreatedAt: benchNow, UpdatedAt: benchNow, NextPollAt: &next,
			}
		}
		return items
	}
	idem := &references.IdempotencyKey{RequestHash: "h", ExpiresAt: benchNow.Add(references.IdempotencyTTL)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		items := batch()
		idem.Key = fmt.Sprint("k", i)
		b.StartTimer()
		res, _, err := db.CreateReferences(ctx, "acct_bench", items, references.CreateOptions{Idempotency: idem, MaxActive: 1 << 30})
		if err != nil || res[999].Err != nil {
			b.Fatal(err, res[999].Err)
		}
	}
}
