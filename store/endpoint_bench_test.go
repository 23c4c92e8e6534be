package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// BenchmarkEndpointDelivery measures the store's part of one delivery to an account
// endpoint, with concurrent callers as the notifier's workers are: a stream claimed
// with ClaimDueDeliveries, then, per operation, RecordAttempt of a success (durable
// before it returns, fsync on) and NextDelivery for the stream's next message; a
// drained stream's lease is released and another claimed. The account has 10
// endpoints, each taking every update of its references (which have no callback).
// When nothing is due, one more reference gets deliveryBatch updates (100 messages);
// that poll is inside the timing, about one operation in 100.
func BenchmarkEndpointDelivery(b *testing.B) {
	ctx := context.Background()
	clk := clock.NewFake(benchNow)
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{NoSync: true, Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	if _, err := db.EnsureAccount(ctx, "a", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", benchNow); err != nil {
		b.Fatal(err)
	}
	for range 10 {
		addEndpoint(b, db, nil)
	}
	ids := make([]string, 200)
	for i := range ids {
		ids[i] = mustCreate(b, db, newRef("a", fmt.Sprintf("ENDP%07d", i), benchNow)).ID
	}
	s := benchShipment(b)
	var filled atomic.Int64
	fill := func() error {
		res := changedPoll(s, benchNow)
		for len(res.Updates) < deliveryBatch {
			res.Updates = append(res.Updates, res.Updates[0])
		}
		for {
			busy, err := benchRecordPoll(ctx, db, ids[int(filled.Add(1))%len(ids)], res)
			if !busy {
				return err
			}
		}
	}
	for range 32 {
		if err := fill(); err != nil {
			b.Fatal(err)
		}
	}
	db.bolt.NoSync = false
	var delivered atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var claim *references.DeliveryClaim
		for pb.Next() {
			for claim == nil {
				claims, err := db.ClaimDueDeliveries(ctx, benchOwner, 1, time.Minute)
				if err != nil {
					b.Error(err)
					return
				}
				if len(claims) == 0 {
					if err := fill(); err != nil {
						b.Error(err)
						return
					}
					continue
				}
				if claims[0].Job.Endpoint == nil {
					b.Errorf("claimed %s, not an endpoint's stream", claims[0].Lease.Key)
					return
				}
				claim = &claims[0]
			}
			job := claim.Job
			a := endpointAttempt(job, references.OutcomeDelivered, benchNow)
			if _, err := db.RecordAttempt(ctx, claim.Lease, job, a, ""); err != nil {
				b.Error(err)
				return
			}
			delivered.Add(1)
			next, err := db.NextDelivery(ctx, claim.Lease)
			switch {
			case errors.Is(err, references.ErrNothingToDeliver):
				if err := db.ReleaseLease(ctx, claim.Lease); err != nil {
					b.Error(err)
					return
				}
				claim = nil
			case err != nil:
				b.Error(err)
				return
			default:
				claim.Job = next
			}
		}
		if claim != nil {
			if err := db.ReleaseLease(ctx, claim.Lease); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(delivered.Load())/time.Since(start).Seconds(), "deliveries/s")
}
