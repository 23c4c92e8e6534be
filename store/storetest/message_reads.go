package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runMessageReads exercises the reads and resend requests of endpoints' message logs
// on messages made as the contract makes them: by the fan-out of RecordPoll, the
// attempts RecordAttempt records, and the operational events it appends.
func runMessageReads(t *testing.T, open Opener) {
	t.Run("MessageReads", func(t *testing.T) {
		// threeMessages makes an endpoint of acctA and a reference without callback
		// whose feed gets one update a minute, three times: the endpoint's messages.
		threeMessages := func(f *fixture) (references.Endpoint, references.Reference, []references.Update) {
			ep := f.createEndpoint(acctA, nil)
			ref := f.create(acctA, nil)
			var ups []references.Update
			for range 3 {
				ups = append(ups, f.appendUpdates(ref.ID)...)
				f.clk.Advance(time.Minute)
			}
			return ep, ref, ups
		}
		// settle gives the first message up and delivers the second (latencies 300
		// and 20 ms): failed, succeeded, pending.
		settle := func(f *fixture, ep references.Endpoint, ref references.Reference) {
			c := f.claimDelivery("deliverer", references.DeliveryLeaseKey(ep.ID, ref.ID))
			a := f.endpointAttempt(c.Job, references.OutcomeGaveUp)
			a.LatencyMS = 300
			f.record(c.Lease, c.Job, a)
			job := f.next(c.Lease)
			a = f.endpointAttempt(job, references.OutcomeDelivered)
			a.LatencyMS = 20
			f.record(c.Lease, job, a)
			if err := f.b.ReleaseLease(f.ctx, c.Lease); err != nil {
				t.Fatalf("ReleaseLease: %v", err)
			}
		}

		t.Run("ListNewestFirstInPages", func(t *testing.T) {
			f := setup(t, open)
			ep, ref, ups := threeMessages(f)
			first := f.listMessages(acctA, ep.ID, references.MessageQuery{Limit: 2})
			if got := messageIDs(first.Messages); !slices.Equal(got, []string{ups[2].ID, ups[1].ID}) || first.NextCursor == "" {
				t.Fatalf("first page = %q, cursor %q; want the two newest and a cursor", got, first.NextCursor)
			}
			rest := f.listMessages(acctA, ep.ID, references.MessageQuery{Limit: 2, Cursor: first.NextCursor})
			if got := messageIDs(rest.Messages); !slices.Equal(got, []string{ups[0].ID}) || rest.NextCursor != "" {
				t.Fatalf("second page = %q, cursor %q; want the oldest and no cursor", got, rest.NextCursor)
			}
			m := rest.Messages[0]
			if m.EndpointID != ep.ID || m.AccountID != acctA || m.ReferenceID != ref.ID || m.Sequence != ups[0].Sequence ||
				m.EventType != string(references.UpdateShipment) || m.Status != references.MessagePending || !m.CreatedAt.Equal(ups[0].CreatedAt) {
				t.Errorf("message = %+v, want the first update's, pending", m)
			}
		})

		t.Run("FiltersByCreationTime", func(t *testing.T) {
			f := setup(t, open)
			ep, _, ups := threeMessages(f)
			after, before := ups[0].CreatedAt, ups[2].CreatedAt
			for _, c := range []struct {
				name string
				q    references.MessageQuery
				want []string
			}{
				{"after", references.MessageQuery{After: &after}, []string{ups[2].ID, ups[1].ID}},
				{"before", references.MessageQuery{Before: &before}, []string{ups[1].ID, ups[0].ID}},
				{"between", references.MessageQuery{After: &after, Before: &before}, []string{ups[1].ID}},
				{"before and after swapped", references.MessageQuery{After: &before, Before: &after}, nil},
			} {
				if got := messageIDs(f.listMessages(acctA, ep.ID, c.q).Messages); !slices.Equal(got, c.want) {
					t.Errorf("%s: %q, want %q", c.name, got, c.want)
				}
			}
		})

		t.Run("FiltersByStatus", func(t *testing.T) {
			f := setup(t, open)
			ep, ref, ups := threeMessages(f)
			settle(f, ep, ref)
			for _, c := range []struct {
				status references.MessageStatus
				want   []string
			}{
				{references.MessageFailed, []string{ups[0].ID}},
				{references.MessageSucceeded, []string{ups[1].ID}},
				{references.MessagePending, []string{ups[2].ID}},
				{references.MessageSending, nil},
			} {
				page := f.listMessages(acctA, ep.ID, references.MessageQuery{Status: c.status, Limit: 1})
				if got := messageIDs(page.Messages); !slices.Equal(got, c.want) {
					t.Errorf("status %s: %q, want %q", c.status, got, c.want)
				}
				if page.NextCursor != "" {
					// A cursor may come with a short page; following it finds no more.
					more := f.listMessages(acctA, ep.ID, references.MessageQuery{Status: c.status, Limit: 1, Cursor: page.NextCursor})
					if len(more.Messages) != 0 {
						t.Errorf("status %s: a second page of %d", c.status, len(more.Messages))
					}
				}
			}
			failed := f.listMessages(acctA, ep.ID, references.MessageQuery{Status: references.MessageFailed}).Messages
			if len(failed) == 1 && failed[0].FailReason != references.OutcomeGaveUp {
				t.Errorf("the failed message's reason = %q, want gave_up", failed[0].FailReason)
			}
		})

		t.Run("GetMessageWithItsAttemptsAndUpdate", func(t *testing.T) {
			f := setup(t, open)
			ep, ref, ups := threeMessages(f)
			settle(f, ep, ref)
			m, body, err := f.b.GetMessage(f.ctx, acctA, ep.ID, ups[1].ID)
			if err != nil {
				t.Fatalf("GetMessage: %v", err)
			}
			if m.Status != references.MessageSucceeded || len(m.Attempts) != 1 || m.Attempts[0].Outcome != references.OutcomeDelivered || m.Attempts[0].LatencyMS != 20 {
				t.Errorf("message = %s with attempts %+v, want succeeded after one delivered attempt", m.Status, m.Attempts)
			}
			if body.Update == nil || body.Update.ID != ups[1].ID || body.Event != nil {
				t.Errorf("body = %+v, want update %s", body, ups[1].ID)
			}
			_, _, err = f.b.GetMessage(f.ctx, acctA, ep.ID, "upd_none")
			wantCode(t, "GetMessage of an unknown id", err, references.CodeNotFound)
		})

		t.Run("ResendQueuesARedelivery", func(t *testing.T) {
			f := setup(t, open)
			ep, ref, ups := threeMessages(f)
			settle(f, ep, ref)
			if err := f.b.ResendMessage(f.ctx, acctA, ep.ID, ups[1].ID, f.now()); err != nil {
				t.Fatalf("ResendMessage: %v", err)
			}
			c := f.claimDelivery("deliverer", references.RedeliveryLeaseKey(ep.ID, ref.ID, ups[1].ID))
			if !c.Job.Redelivery || c.Job.Update.ID != ups[1].ID || c.Job.Destination != ep.ID {
				t.Errorf("claimed job: redelivery %t, update %s, destination %s; want a redelivery of %s to %s",
					c.Job.Redelivery, c.Job.Update.ID, c.Job.Destination, ups[1].ID, ep.ID)
			}
		})

		t.Run("RecoverQueuesFailedMessagesSince", func(t *testing.T) {
			f := setup(t, open)
			ep, ref, ups := threeMessages(f)
			settle(f, ep, ref)
			n, err := f.b.RecoverMessages(f.ctx, acctA, ep.ID, ups[1].CreatedAt, f.now())
			if err != nil || n != 0 {
				t.Errorf("recover since after the failed message = %d, %v; want 0", n, err)
			}
			n, err = f.b.RecoverMessages(f.ctx, acctA, ep.ID, ups[0].CreatedAt, f.now())
			if err != nil || n != 1 {
				t.Fatalf("recover since the failed message = %d, %v; want 1", n, err)
			}
			c := f.claimDelivery("deliverer", references.RedeliveryLeaseKey(ep.ID, ref.ID, ups[0].ID))
			if !c.Job.Redelivery || c.Job.Update.ID != ups[0].ID {
				t.Errorf("claimed job: redelivery %t of %s, want a redelivery of %s", c.Job.Redelivery, c.Job.Update.ID, ups[0].ID)
			}
		})

		t.Run("StatsCountAndMeasure", func(t *testing.T) {
			f := setup(t, open)
			ep, ref, ups := threeMessages(f)
			settle(f, ep, ref)
			st, err := f.b.EndpointStats(f.ctx, acctA, ep.ID, ups[0].CreatedAt)
			if err != nil {
				t.Fatalf("EndpointStats: %v", err)
			}
			want := map[references.MessageStatus]int{references.MessageFailed: 1, references.MessageSucceeded: 1, references.MessagePending: 1}
			for _, s := range references.MessageStatuses {
				if st.Counts[s] != want[s] {
					t.Errorf("%d %s messages, want %d", st.Counts[s], s, want[s])
				}
			}
			if st.SuccessRate != 0.5 || st.Attempts != 2 || st.LatencyP50MS != 20 || st.LatencyP99MS != 300 || !st.Since.Equal(ups[0].CreatedAt) {
				t.Errorf("stats = %+v; want success rate 0.5, 2 attempts, p50 20 ms, p99 300 ms", st)
			}
			st, err = f.b.EndpointStats(f.ctx, acctA, ep.ID, ups[1].CreatedAt)
			if err != nil || st.Counts[references.MessageFailed] != 0 || st.SuccessRate != 1 || st.Attempts != 1 {
				t.Errorf("stats since the second message = %+v, %v; want it and the third only", st, err)
			}
		})

		t.Run("DeleteRemovesMessagesAndTheirDeliveries", func(t *testing.T) {
			f := setup(t, open)
			ep, _, ups := threeMessages(f)
			f.deleteEndpoint(acctA, ep.ID)
			f.noDeliveryDue("after deleting the only endpoint")
			_, _, err := f.b.GetMessage(f.ctx, acctA, ep.ID, ups[0].ID)
			wantCode(t, "GetMessage of a deleted endpoint", err, references.CodeNotFound)
			f.restart()
			f.noDeliveryDue("after deleting the only endpoint and a restart")
		})

		t.Run("AnotherAccountReachesNoMessage", func(t *testing.T) {
			f := setup(t, open)
			ep, _, ups := threeMessages(f)
			own := f.createEndpoint(acctB, nil)
			notFound := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, references.ErrNotFound) {
					t.Errorf("%s: %v, want ErrNotFound", what, err)
				}
			}
			_, err := f.b.ListMessages(f.ctx, acctB, ep.ID, references.MessageQuery{})
			notFound("ListMessages of another account's endpoint", err)
			_, _, err = f.b.GetMessage(f.ctx, acctB, ep.ID, ups[0].ID)
			notFound("GetMessage through another account's endpoint", err)
			_, _, err = f.b.GetMessage(f.ctx, acctB, own.ID, ups[0].ID)
			notFound("GetMessage of another endpoint's message", err)
			notFound("ResendMessage of another endpoint's message", f.b.ResendMessage(f.ctx, acctB, own.ID, ups[0].ID, f.now()))
			if page := f.listMessages(acctB, own.ID, references.MessageQuery{}); len(page.Messages) != 0 {
				t.Errorf("acctB's endpoint has %d messages of acctA's updates", len(page.Messages))
			}
		})

		t.Run("OperationalEventsFeedAndMessages", func(t *testing.T) {
			f := setup(t, open)
			ep, ref, _ := threeMessages(f)
			watcher := f.createEndpoint(acctA, func(e *references.Endpoint) { e.EventTypes = []string{"endpoint.*"} })
			f.createEndpoint(acctB, func(e *references.Endpoint) { e.EventTypes = []string{"*"} })
			c := f.claimDelivery("deliverer", references.DeliveryLeaseKey(ep.ID, ref.ID))
			a := f.endpointAttempt(c.Job, references.OutcomeGone)
			a.Disable = references.DisabledGone
			f.record(c.Lease, c.Job, a)
			events, err := f.b.ListAccountEvents(f.ctx, acctA, 0, 10)
			if err != nil || len(events) != 1 {
				t.Fatalf("ListAccountEvents = %d events, %v; want 1", len(events), err)
			}
			e := events[0]
			if e.Type != references.EventEndpointDisabled || e.Sequence != 1 || e.EndpointID != ep.ID || e.DisabledReason != references.DisabledGone {
				t.Errorf("event = %+v, want endpoint.disabled of %s (gone), sequence 1", e, ep.ID)
			}
			if more, err := f.b.ListAccountEvents(f.ctx, acctA, 1, 10); err != nil || len(more) != 0 {
				t.Errorf("events after 1 = %d, %v; want none", len(more), err)
			}
			if other, err := f.b.ListAccountEvents(f.ctx, acctB, 0, 10); err != nil || len(other) != 0 {
				t.Errorf("acctB's events = %d, %v; want none", len(other), err)
			}
			msgs := f.listMessages(acctA, watcher.ID, references.MessageQuery{}).Messages
			if len(msgs) != 1 || msgs[0].ID != e.ID || msgs[0].ReferenceID != "" || msgs[0].EventType != references.EventEndpointDisabled {
				t.Fatalf("the subscribed endpoint's messages = %+v, want the event", msgs)
			}
			_, body, err := f.b.GetMessage(f.ctx, acctA, watcher.ID, e.ID)
			if err != nil || body.Event == nil || body.Event.ID != e.ID || body.Update != nil {
				t.Errorf("GetMessage of the event = %+v, %v; want the event as body", body, err)
			}
		})
	})
}

// endpointAttempt returns the record of an attempt of an endpoint's job made now.
func (f *fixture) endpointAttempt(job references.DeliveryJob, outcome references.AttemptOutcome) references.DeliveryAttempt {
	a := f.attempt(job, outcome)
	a.Destination, a.URL = job.Destination, job.URL()
	return a
}

// listMessages reads a page of an endpoint's messages, failing the test on error.
func (f *fixture) listMessages(accountID, endpointID string, q references.MessageQuery) references.MessagePage {
	f.t.Helper()
	page, err := f.b.ListMessages(f.ctx, accountID, endpointID, q)
	if err != nil {
		f.t.Fatalf("ListMessages(%s, %+v): %v", endpointID, q, err)
	}
	return page
}

// messageIDs returns the ids of messages, in order.
func messageIDs(ms []references.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}
