package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/store"
)

// TestOfferPolls_SkipsAReferenceWhosePollIsUnderWay: with few references and a slow
// store, a reference comes round again while its last poll still holds its lease;
// the offering goes on without it instead of failing the run.
func TestOfferPolls_SkipsAReferenceWhosePollIsUnderWay(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(t.TempDir()+"/offer.db", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ids, err := seed(ctx, db, 3, 1, "http://127.0.0.1:9/hooks", &progress{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ClaimPoll(ctx, "a poll under way", ids[0], time.Hour); err != nil {
		t.Fatal(err)
	}
	p, err := poller.New(db, poller.Options{Router: poller.Router{Default: newStepSource(24 * time.Hour)}, Owner: "bench"})
	if err != nil {
		t.Fatal(err)
	}
	var offered, late atomic.Int64
	if _, err := offerPolls(ctx, []*poller.Poller{p}, ids, 200, 50*time.Millisecond, 2, &offered, &late); err != nil {
		t.Fatalf("offerPolls: %v", err)
	}
	if offered.Load() < int64(len(ids)) {
		t.Errorf("%d polls offered in 50 ms at 200/s, want at least %d", offered.Load(), len(ids))
	}
	for _, id := range ids[1:] {
		ref, err := db.GetReference(ctx, accountOf(0, 1), id)
		if err != nil {
			t.Fatal(err)
		}
		if ref.LastPolledAt == nil {
			t.Errorf("%s was not polled", id)
		}
	}
}
