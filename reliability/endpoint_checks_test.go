package reliability_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	svix "github.com/svix/svix-webhooks/go"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// endpointFigures are what destination.check counted.
type endpointFigures struct {
	feedUpdates int // updates in the feeds
	selected    int // of which the destination selects
	tries       int // requests the receiver got in full
	refused     int // of which it answered 500
	accepted    int // of which it accepted
	repeats     int // accepted again under the webhook-id accepted just before
	largest     int // updates in the largest POST
}

func (f endpointFigures) String() string {
	return fmt.Sprintf("%d of %d updates selected; %d tries, %d refused with 500, %d accepted, %d of them repeats; up to %d updates a POST",
		f.selected, f.feedUpdates, f.tries, f.refused, f.accepted, f.repeats, f.largest)
}

// check compares what the destination's receiver got with the feeds (reference id ->
// its updates, in wire form) and with the messages the service lists for it:
//   - every request is a webhook of the destination's format (one update, or a batch
//     of at most 3), never an operational event it did not ask for, and a webhook-id
//     carries the same updates on every try, accepted or refused;
//   - every accepted one verifies with the endpoint's secret and not with the
//     account's; a svix one carries the svix- headers, which the svix library
//     verifies alone;
//   - the webhook-id is the update's id, or the batch's id for its first and last
//     sequence;
//   - per reference, the selected updates arrive in order, each once, a repeat being
//     only the webhook accepted just before under the same webhook-id;
//   - every selected update arrived, and nothing else did;
//   - the messages API lists exactly the selected updates, each succeeded, a batch
//     one under the webhook-id its update was accepted with.
func (d *destination) check(t *testing.T, feeds map[string][]webhook.Update, accountSecrets []string) endpointFigures {
	t.Helper()
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	var fig endpointFigures
	selected := make(map[string][]webhook.Update, len(feeds))
	for ref, feed := range feeds {
		selected[ref] = d.selected(feed)
		fig.feedUpdates += len(feed)
		fig.selected += len(selected[ref])
	}

	pos := map[string]int{}              // per reference, the selected updates accepted in order
	lastID := map[string]string{}        // per reference, the webhook-id accepted last in order
	carried := map[string]string{}       // webhook-id -> the update ids of its first try
	acceptedUnder := map[string]string{} // update id -> the webhook-id it was accepted with
	for i, h := range d.rcv.all() {
		fig.tries++
		items, err := d.decode(&h)
		if err != nil {
			fail("request %d (%s): %v", i, h.id, err)
			continue
		}
		ids := updateIDs(items)
		if first, ok := carried[h.id]; ok && first != ids {
			fail("request %d: webhook-id %s carries %s, and %s before", i, h.id, ids, first)
		}
		carried[h.id] = ids
		if !h.accepted() {
			fig.refused++
			continue
		}
		fig.accepted++
		fig.largest = max(fig.largest, len(items))
		d.verify(&h, accountSecrets, func(format string, args ...any) { fail("request %d (%s): "+format, append([]any{i, h.id}, args...)...) })

		ref := items[0].ReferenceID
		want := items[0].ID
		if d.batch {
			want = references.BatchID(d.id, ref, items[0].Sequence, items[len(items)-1].Sequence)
		}
		if h.id != want {
			fail("request %d: webhook-id %s, want %s", i, h.id, want)
		}
		sel, known := selected[ref]
		switch p := pos[ref]; {
		case !known:
			fail("request %d: reference %s is not one of the service's", i, ref)
		case p < len(sel) && items[0].ID == sel[p].ID:
			for j := range items {
				if p+j >= len(sel) || !sameUpdate(&items[j], &sel[p+j]) {
					fail("request %d: %s #%d (%s) is not the next update %s selects after #%d", i, ref, items[j].Sequence, items[j].ID, d.name, items[0].Sequence)
					break
				}
				acceptedUnder[items[j].ID] = h.id
			}
			pos[ref], lastID[ref] = p+len(items), h.id
		case h.id == lastID[ref]:
			fig.repeats++ // the same updates: checked with carried
		default:
			next := "nothing more"
			if p < len(sel) {
				next = fmt.Sprintf("#%d", sel[p].Sequence)
			}
			fail("request %d: %s #%d..#%d under %s, but %s was due next (out of order, a gap, or a repeat under a new webhook-id)",
				i, ref, items[0].Sequence, items[len(items)-1].Sequence, h.id, next)
			// Go on from there, so that one fault is reported once.
			if q := slices.IndexFunc(sel, func(u webhook.Update) bool { return u.ID == items[0].ID }); q >= 0 {
				pos[ref], lastID[ref] = q+len(items), h.id
			}
		}
	}
	refIDs := make([]string, 0, len(selected))
	for id := range selected {
		refIDs = append(refIDs, id)
	}
	sort.Strings(refIDs)
	for _, id := range refIDs {
		if n := len(selected[id]); pos[id] != n {
			fail("%s: %s selects %d of its updates, %d arrived in order", id, d.name, n, pos[id])
		}
	}

	// The messages API: every selected update is a message, succeeded.
	byID := make(map[string]int, len(d.messages))
	for i, m := range d.messages {
		if _, dup := byID[m.ID]; dup {
			fail("message %s is listed twice", m.ID)
		}
		byID[m.ID] = i
		switch {
		case m.Status != references.MessageSucceeded:
			fail("message %s (%s #%d): status %s (%s), want succeeded", m.ID, m.ReferenceID, m.Sequence, m.Status, m.FailReason)
		case m.Attempts < 1 || m.LastAttempt == nil || m.LastAttempt.Outcome != references.OutcomeDelivered:
			fail("message %s: succeeded after %d attempts, the last %+v", m.ID, m.Attempts, m.LastAttempt)
		}
		if want := acceptedUnder[m.ID]; d.batch && m.BatchID != want || !d.batch && m.BatchID != "" {
			fail("message %s: batch_id %q, it was accepted under %q", m.ID, m.BatchID, want)
		}
	}
	for _, id := range refIDs {
		for _, u := range selected[id] {
			i, ok := byID[u.ID]
			if !ok {
				fail("%s #%d (%s): no message of %s", id, u.Sequence, u.ID, d.name)
				continue
			}
			if m := d.messages[i]; m.ReferenceID != id || m.Sequence != u.Sequence || m.EventType != string(u.Type) {
				fail("message %s: %s #%d %s, the feed has %s #%d %s", m.ID, m.ReferenceID, m.Sequence, m.EventType, id, u.Sequence, u.Type)
			}
		}
	}
	if len(d.messages) != fig.selected {
		fail("%d messages listed, %d updates selected", len(d.messages), fig.selected)
	}

	// What the run must have exercised for the checks above to mean something.
	switch {
	case d.selects != nil && (fig.selected == 0 || fig.selected == fig.feedUpdates):
		fail("the filter selected %d of %d updates: it was not put to the test", fig.selected, fig.feedUpdates)
	case d.rcv.failEvery > 0 && fig.refused == 0:
		fail("the flaky receiver refused nothing")
	case d.batch && fig.largest < 2:
		fail("no batch carried more than one update")
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

// decode reads a request's body as the destination's format and returns the updates
// it carries, in order.
func (d *destination) decode(h *hit) ([]webhook.Update, error) {
	dlv, err := webhook.DecodeDelivery(h.body)
	switch {
	case err != nil:
		return nil, err
	case dlv.Event != nil:
		return nil, fmt.Errorf("an operational event %s, which the endpoint did not subscribe to", dlv.Event.Type)
	case d.batch && dlv.Batch == nil, !d.batch && dlv.Batch != nil:
		return nil, fmt.Errorf("the wrong format (batch: %v) for the endpoint", dlv.Batch != nil)
	case dlv.Batch != nil:
		if len(dlv.Batch.Data) > 3 {
			return nil, fmt.Errorf("a batch of %d updates, the batch size is 3", len(dlv.Batch.Data))
		}
		for i := range dlv.Batch.Data {
			if dlv.Batch.Data[i].ReferenceID != dlv.Batch.Data[0].ReferenceID {
				return nil, fmt.Errorf("a batch of updates of %s and %s", dlv.Batch.Data[0].ReferenceID, dlv.Batch.Data[i].ReferenceID)
			}
		}
		return dlv.Batch.Data, nil
	}
	return []webhook.Update{dlv.Update.Data}, nil
}

// verify checks an accepted request's signature headers.
func (d *destination) verify(h *hit, accountSecrets []string, fail func(string, ...any)) {
	if err := webhook.Verify(d.secrets, h.header, h.body, webhook.DefaultTolerance, h.at); err != nil {
		fail("signature with the endpoint's secret: %v", err)
	}
	if err := webhook.Verify(accountSecrets, h.header, h.body, webhook.DefaultTolerance, h.at); !errors.Is(err, webhook.ErrNoMatchingSignature) {
		fail("with the account's secret instead of the endpoint's: %v, want no matching signature", err)
	}
	svixNames := []string{webhook.HeaderSvixID, webhook.HeaderSvixTimestamp, webhook.HeaderSvixSignature}
	if !d.svix {
		for _, name := range svixNames {
			if h.header.Get(name) != "" {
				fail("%s on an endpoint with standard headers", name)
			}
		}
		return
	}
	svixOnly := http.Header{}
	for i, name := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature} {
		if got, want := h.header.Get(svixNames[i]), h.header.Get(name); got != want {
			fail("%s %q, %s %q", svixNames[i], got, name, want)
		}
		svixOnly.Set(svixNames[i], h.header.Get(svixNames[i]))
	}
	wh, err := svix.NewWebhook(d.secrets[0])
	if err != nil {
		fail("svix library: %v", err)
		return
	}
	// The timestamp's age was checked above, at the moment the request arrived.
	if err := wh.VerifyIgnoringTimestamp(h.body, svixOnly); err != nil {
		fail("the svix library, with the svix- headers alone: %v", err)
	}
}

// sameUpdate reports whether a delivered update is the feed's: same id, reference,
// sequence, type and tags.
func sameUpdate(got, want *webhook.Update) bool {
	return got.ID == want.ID && got.ReferenceID == want.ReferenceID && got.Sequence == want.Sequence &&
		got.Type == want.Type && strings.Join(got.Tags, ",") == strings.Join(want.Tags, ",") && got.CreatedAt.Equal(want.CreatedAt)
}

func updateIDs(us []webhook.Update) string {
	ids := make([]string, len(us))
	for i := range us {
		ids[i] = us[i].ID
	}
	return strings.Join(ids, ",")
}
