package reliability_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// delivery is one webhook a receiver accepted, that is answered with a 2xx.
type delivery struct {
	at      time.Time // when the receiver accepted it
	header  http.Header
	body    []byte
	id      string // webhook-id
	refID   string
	seq     uint64
	created time.Time // the update's created_at: when the change was detected
	payload *webhook.Payload
	err     error // why the body is not a webhook payload
}

// recorder keeps the webhooks a receiver accepted, in the order it accepted them.
type recorder struct {
	mu   sync.Mutex
	list []delivery
}

// accept records a webhook as accepted now.
func (r *recorder) accept(h http.Header, body []byte) delivery {
	d := delivery{at: time.Now(), header: h.Clone(), body: body, id: h.Get(webhook.HeaderID)}
	d.payload, d.err = webhook.Decode(body)
	if d.err == nil {
		d.refID, d.seq, d.created = d.payload.Data.ReferenceID, d.payload.Data.Sequence, d.payload.Data.CreatedAt
	}
	r.mu.Lock()
	r.list = append(r.list, d)
	r.mu.Unlock()
	return d
}

// deliveries returns what was accepted so far, in order.
func (r *recorder) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.list...)
}

// receiver is a loopback webhook receiver that accepts every complete request, after
// an optional delay. A request whose sender gives up during the delay is not accepted.
type receiver struct {
	*httptest.Server
	recorder
	delay     atomic.Pointer[func() time.Duration]
	onAccept  atomic.Pointer[func()] // called after a webhook is accepted, before the answer
	arrived   atomic.Int64           // requests received in full
	inFlight  atomic.Int64           // requests received and not answered yet
	abandoned atomic.Int64           // requests the sender gave up on before the answer
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

// setDelay makes every later request wait delay() before it is answered; nil answers
// at once.
func (rc *receiver) setDelay(delay func() time.Duration) {
	if delay == nil {
		rc.delay.Store(nil)
		return
	}
	rc.delay.Store(&delay)
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // cut off half-way (the sender was killed): not a delivery
	}
	rc.arrived.Add(1)
	rc.inFlight.Add(1)
	defer rc.inFlight.Add(-1)
	if f := rc.delay.Load(); f != nil {
		if d := (*f)(); d > 0 {
			timer := time.NewTimer(d)
			defer timer.Stop()
			select {
			case <-timer.C:
			case <-r.Context().Done():
				rc.abandoned.Add(1)
				return
			}
		}
	}
	rc.accept(r.Header, body)
	if f := rc.onAccept.Load(); f != nil {
		(*f)()
	}
	w.WriteHeader(http.StatusNoContent)
}

// deliveryFigures are what checkDeliveries counted.
type deliveryFigures struct {
	references int // references with at least one update
	updates    int // updates in the feeds, each checked
	deliveries int // webhooks accepted
	duplicates int // of which repeats of an update accepted before
}

func (f deliveryFigures) String() string {
	return fmt.Sprintf("%d updates of %d references checked; %d webhooks accepted, %d of them repeats",
		f.updates, f.references, f.deliveries, f.duplicates)
}

// checkDeliveries checks what a receiver accepted against the feeds the service keeps
// (reference id -> its updates):
//   - each feed is 1, 2, 3 ... without gaps;
//   - every delivery verifies with one of secrets at the moment it arrived, and its
//     body is the feed's update of that webhook-id and sequence;
//   - per reference, sequences arrive as 1, 2, 3 ..., a repeat being only of the
//     sequence just accepted and under the same webhook-id (a retry of an attempt
//     whose answer was lost, as after a crash);
//   - every update of every feed arrived at least once.
func checkDeliveries(t *testing.T, feeds map[string][]references.Update, got []delivery, secrets []string) deliveryFigures {
	t.Helper()
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	fig := deliveryFigures{deliveries: len(got)}
	for refID, feed := range feeds {
		if len(feed) > 0 {
			fig.references++
		}
		fig.updates += len(feed)
		for i, u := range feed {
			if u.Sequence != uint64(i+1) || u.ReferenceID != refID {
				fail("feed of %s: entry %d has sequence %d of %s", refID, i, u.Sequence, u.ReferenceID)
			}
		}
	}

	lastSeq := map[string]uint64{} // per reference, the highest sequence accepted
	lastID := map[string]string{}  // per reference, the webhook-id of that sequence
	for i, d := range got {
		if d.err != nil {
			fail("delivery %d (%s): %v", i, d.id, d.err)
			continue
		}
		if err := webhook.Verify(secrets, d.header, d.body, webhook.DefaultTolerance, d.at); err != nil {
			fail("delivery %d (%s, %s #%d): signature: %v", i, d.id, d.refID, d.seq, err)
		}
		feed, known := feeds[d.refID]
		switch {
		case !known:
			fail("delivery %d: reference %s is not one of the service's", i, d.refID)
			continue
		case d.seq == 0 || d.seq > uint64(len(feed)):
			fail("delivery %d: %s #%d is not in its feed of %d updates", i, d.refID, d.seq, len(feed))
			continue
		}
		want := feed[d.seq-1]
		if d.id != want.ID || d.payload.Data.ID != want.ID || d.payload.Data.Type != want.Type {
			fail("delivery %d: %s #%d is %s (%s, header id %s); the feed has %s (%s)",
				i, d.refID, d.seq, d.payload.Data.ID, d.payload.Data.Type, d.id, want.ID, want.Type)
		}
		switch prev := lastSeq[d.refID]; {
		case d.seq == prev+1:
			lastSeq[d.refID], lastID[d.refID] = d.seq, d.id
		case d.seq == prev:
			fig.duplicates++
			if d.id != lastID[d.refID] {
				fail("delivery %d: %s #%d repeated under webhook-id %s, first under %s", i, d.refID, d.seq, d.id, lastID[d.refID])
			}
		default:
			fail("delivery %d: %s #%d arrived after #%d (out of order or a gap)", i, d.refID, d.seq, prev)
		}
	}
	refIDs := make([]string, 0, len(feeds))
	for id := range feeds {
		refIDs = append(refIDs, id)
	}
	sort.Strings(refIDs)
	for _, id := range refIDs {
		if n := uint64(len(feeds[id])); lastSeq[id] != n {
			fail("%s: %d updates in the feed, the receiver got up to #%d", id, n, lastSeq[id])
		}
	}
	for i, p := range problems {
		if i == 20 {
			t.Errorf("... and %d more problems", len(problems)-20)
			break
		}
		t.Error(p)
	}
	return fig
}
