package reliability_test

import (
	"fmt"
	"testing"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/references"
)

// checkAccountFeed reads the whole account feed (GET /updates) of the service's one
// account and checks it against the references' feeds: account sequences 1..n
// without gap or duplicate across every kill and restart, every update of every feed
// in it exactly once, and each reference's updates in their own order.
func checkAccountFeed(t *testing.T, svc *service, feeds map[string][]references.Update) {
	t.Helper()
	want := 0
	for _, feed := range feeds {
		want += len(feed)
	}
	seen := map[string]bool{}
	last := map[string]uint64{} // reference id -> its last sequence in the account feed
	var after, n uint64
	for {
		var page api.AccountUpdatePage
		svc.get(fmt.Sprintf("/updates?limit=500&after=%d", after), &page)
		for _, u := range page.Updates {
			n++
			if u.AccountSequence != n {
				t.Fatalf("account feed: sequence %d where %d was due (a gap or a duplicate)", u.AccountSequence, n)
			}
			if seen[u.Update.ID] {
				t.Errorf("account feed: update %s twice", u.Update.ID)
			}
			seen[u.Update.ID] = true
			if u.Update.Sequence != last[u.Update.ReferenceID]+1 {
				t.Errorf("account feed: update %d of %s after its update %d", u.Update.Sequence, u.Update.ReferenceID, last[u.Update.ReferenceID])
			}
			last[u.Update.ReferenceID] = u.Update.Sequence
		}
		if page.NextAfter >= page.LastSequence {
			break
		}
		after = page.NextAfter
	}
	if int(n) != want {
		t.Errorf("account feed of %d updates, the references' feeds hold %d", n, want)
	}
	for id, feed := range feeds {
		if uint64(len(feed)) != last[id] {
			t.Errorf("%s: %d updates in the account feed, %d in its own", id, last[id], len(feed))
		}
	}
}
