package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// pollOnce records a poll of refID bringing n shipment updates, as the poller would.
func (b *testBundle) pollOnce(t testing.TB, refID string, n int) {
	t.Helper()
	now := b.clock.Now()
	res := references.PollResult{PolledAt: now, NextPollAt: now.Add(15 * time.Minute)}
	for i := range n {
		res.Updates = append(res.Updates, references.Update{
			Type: references.UpdateShipment, CreatedAt: now,
			Changes: []references.Change{{Type: references.ChangeStatusChanged, Description: fmt.Sprintf("change %d", i), New: "in_transit"}},
		})
	}
	claim, err := b.db.ClaimPoll(context.Background(), testOwner, refID, time.Minute)
	if err != nil {
		t.Fatalf("claim poll: %v", err)
	}
	if _, err := b.db.RecordPoll(context.Background(), claim.Lease, res); err != nil {
		t.Fatalf("record poll: %v", err)
	}
}

// accountFeed is GET /updates with the query, answered 200.
func (b *testBundle) accountFeed(t testing.TB, key, query string) AccountUpdatePage {
	t.Helper()
	resp, body := b.do(t, http.MethodGet, "/updates"+query, key, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /updates%s: %d %s", query, resp.StatusCode, body)
	}
	return decode[AccountUpdatePage](t, body)
}

// feedRefs lists the reference id and account sequence of each entry.
func feedRefs(p AccountUpdatePage) []string {
	var out []string
	for _, u := range p.Updates {
		out = append(out, fmt.Sprintf("%d:%s/%d", u.AccountSequence, u.Update.ReferenceID, u.Update.Sequence))
	}
	return out
}

func TestAccountUpdates_OneGaplessStreamAcrossReferences(t *testing.T) {
	b := setup(t)
	r1 := b.create(t, b.keyA, map[string]any{"booking_number": "BK100001", "carrier_code": "MAEU"})
	r2 := b.create(t, b.keyA, map[string]any{"booking_number": "BK100002", "carrier_code": "MAEU"})
	other := b.create(t, b.keyB, map[string]any{"booking_number": "BK100003", "carrier_code": "MAEU"})
	b.pollOnce(t, r1.ID, 2)
	b.pollOnce(t, other.ID, 1)
	b.pollOnce(t, r2.ID, 1)
	if resp, body := b.do(t, http.MethodDelete, "/references/"+r1.ID, b.keyA, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("unsubscribe: %d %s", resp.StatusCode, body)
	}

	all := b.accountFeed(t, b.keyA, "")
	want := []string{"1:" + r1.ID + "/1", "2:" + r1.ID + "/2", "3:" + r2.ID + "/1", "4:" + r1.ID + "/3"}
	if got := feedRefs(all); !slices.Equal(got, want) {
		t.Fatalf("account feed %v, want %v", got, want)
	}
	if all.NextAfter != 4 || all.LastSequence != 4 || all.OldestAvailable != 1 {
		t.Errorf("next_after %d, last %d, oldest %d; want 4, 4, 1", all.NextAfter, all.LastSequence, all.OldestAvailable)
	}
	if u := all.Updates[3].Update; u.Type != references.UpdateUnsubscribed || u.Reference.BookingNumber != "BK100001" || u.ID == "" {
		t.Errorf("the last entry is not the unsubscribe in its webhook form: %+v", u)
	}

	tests := []struct {
		name, query string
		want        []string
		next        uint64
	}{
		{"first page", "?limit=3", want[:3], 3},
		{"next page", "?after=3&limit=3", want[3:], 4},
		{"nothing new", "?after=4", nil, 4},
		{"one type", "?types=reference.unsubscribed", want[3:], 4},
		{"a tag and a wildcard", "?types=shipment.status_changed,tracking.*", want[:3], 4},
		{"filtered page", "?types=reference.*&after=1&limit=1", want[3:], 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page := b.accountFeed(t, b.keyA, tc.query)
			if got := feedRefs(page); !slices.Equal(got, tc.want) || page.NextAfter != tc.next {
				t.Errorf("%s: %v next_after %d; want %v next_after %d", tc.query, got, page.NextAfter, tc.want, tc.next)
			}
		})
	}
}

// Another account's updates never show, and each account counts from 1.
func TestAccountUpdates_IsolatedByAccount(t *testing.T) {
	b := setup(t)
	mine := b.create(t, b.keyA, map[string]any{"booking_number": "BK200001", "carrier_code": "MAEU"})
	theirs := b.create(t, b.keyB, map[string]any{"booking_number": "BK200002", "carrier_code": "MAEU"})
	b.pollOnce(t, mine.ID, 3)
	b.pollOnce(t, theirs.ID, 1)
	page := b.accountFeed(t, b.keyB, "?after=0")
	if got, want := feedRefs(page), []string{"1:" + theirs.ID + "/1"}; !slices.Equal(got, want) || page.LastSequence != 1 {
		t.Fatalf("account B's feed %v (last %d), want %v (last 1)", got, page.LastSequence, want)
	}
	if page := b.accountFeed(t, b.keyB, "?after=1"); len(page.Updates) != 0 {
		t.Errorf("account B after its last update: %v", feedRefs(page))
	}
}

func TestAccountUpdates_QueryValidation(t *testing.T) {
	b := setup(t)
	for _, tt := range []struct{ query, field string }{
		{"?after=-1", "after"},
		{"?after=x", "after"},
		{"?after=18446744073709551616", "after"},
		{"?limit=0", "limit"},
		{"?limit=501", "limit"},
		{"?types=shipment.sunk", "types"},
		{"?types=shipment.updated,,tracking.failed", "types"},
		{"?types=endpoint.disabled", "types"}, // an operational event, not an update
		{"?types=ship*", "types"},
		{"?types=" + strings.Repeat("shipment.updated,", 61), "types"},
	} {
		resp, body := b.do(t, http.MethodGet, "/updates"+tt.query, b.keyA, nil)
		wantError(t, resp, body, http.StatusUnprocessableEntity, references.CodeInvalid, tt.field)
	}
}
