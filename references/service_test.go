package references_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/trackhook/trackhook/references"
)

// feedStore serves one feed the way store.ListUpdates reads it: from sequence after+1,
// which wraps around to 0 when after is the largest uint64. Only ListUpdates is
// implemented; the embedded nil Store makes any other call fail loudly.
type feedStore struct {
	references.Store
	feed []references.Update
}

func (s feedStore) ListUpdates(_ context.Context, _, _ string, after uint64, limit int) ([]references.Update, error) {
	var out []references.Update
	for _, u := range s.feed {
		if u.Sequence >= after+1 && len(out) < limit {
			out = append(out, u)
		}
	}
	return out, nil
}

func TestService_UpdatesAfterTheLargestSequenceIsEmpty(t *testing.T) {
	store := feedStore{feed: []references.Update{{ID: "upd_1", Sequence: 1}, {ID: "upd_2", Sequence: 2}, {ID: "upd_3", Sequence: 3}}}
	svc := references.NewService(store, references.ServiceOptions{})
	tests := []struct {
		after    uint64
		wantSeqs []uint64
		wantNext uint64
	}{
		{0, []uint64{1, 2, 3}, 3},
		{2, []uint64{3}, 3},
		{3, nil, 3},
		{math.MaxUint64 - 1, nil, math.MaxUint64 - 1},
		{math.MaxUint64, nil, math.MaxUint64}, // after+1 wraps to 0 in the store
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.after), func(t *testing.T) {
			page, err := svc.Updates(context.Background(), "acct", "ref_x", tt.after, 0)
			if err != nil {
				t.Fatal(err)
			}
			var seqs []uint64
			for _, u := range page.Updates {
				seqs = append(seqs, u.Sequence)
			}
			if !slices.Equal(seqs, tt.wantSeqs) || page.NextAfter != tt.wantNext || page.Updates == nil {
				t.Errorf("sequences %v, next_after %d; want %v, %d", seqs, page.NextAfter, tt.wantSeqs, tt.wantNext)
			}
		})
	}
}
