package retention_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/retention"
	"github.com/trackhook/trackhook/references"
)

// unsubscribe stops tracking refID now, as a user's DELETE does.
func (f *fixture) unsubscribe(t *testing.T, refID string) {
	t.Helper()
	if _, err := f.svc.Unsubscribe(context.Background(), account, refID); err != nil {
		t.Fatalf("unsubscribe %s: %v", refID, err)
	}
}

// exists reports whether the store still has the reference.
func (f *fixture) exists(t *testing.T, refID string) bool {
	t.Helper()
	_, err := f.db.GetReference(context.Background(), account, refID)
	if err != nil && !errors.Is(err, references.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func (f *fixture) stats(t *testing.T) references.Stats {
	t.Helper()
	st, err := f.db.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestPruner_DeletesUnsubscribedReferencesKeepUnsubscribedAfterTheirUnsubscribe: a
// reference unsubscribed on day 2 goes, with its feed, at the prune Start runs on day
// 5.5 (KeepUnsubscribed is 3 days); one unsubscribed on day 3 stays until a prune
// after day 6; the active one stays; the counts in Stats follow.
func TestPruner_DeletesUnsubscribedReferencesKeepUnsubscribedAfterTheirUnsubscribe(t *testing.T) {
	f := newFixture(t)
	early := f.create(t, "MSCU1234566", "")
	late := f.create(t, "CSQU3054383", "")
	active := f.create(t, "MAEU1234567", "")
	f.pollDays(t, 2, 1, early, late, active) // 2 updates each; now is day 2
	f.unsubscribe(t, early.ID)
	f.clk.Advance(day)
	f.unsubscribe(t, late.ID) // day 3
	feedOf := func(id string) int64 { return int64(len(f.feed(t, id))) }
	earlyFeed, lateFeed := feedOf(early.ID), feedOf(late.ID)
	f.clk.Advance(2*day + 12*time.Hour)

	const keepUnsub = 3 * day
	w := watch(f.db)
	p := retention.New(w, retention.Options{KeepUnsubscribed: keepUnsub, Every: day, Clock: f.clk})
	p.Start(context.Background())
	calls := w.nextPrune(t) // day 5.5: the cutoff is day 2.5
	stop(t, p, context.Background())
	if got := calls[0].req.Unsubscribed; !got.Equal(f.clk.Now().Add(-keepUnsub)) {
		t.Errorf("cutoff %v, want now - KeepUnsubscribed", got)
	}
	if f.exists(t, early.ID) || !f.exists(t, late.ID) || !f.exists(t, active.ID) {
		t.Fatalf("after the first prune: early %t, late %t, active %t; want only early gone",
			f.exists(t, early.ID), f.exists(t, late.ID), f.exists(t, active.ID))
	}
	st := f.stats(t)
	if st.Pruned.References != 1 || st.Pruned.Updates != earlyFeed || st.UnsubscribedReferences != 1 || st.ActiveReferences != 1 {
		t.Errorf("stats after the first prune: %+v", st)
	}

	f.clk.Advance(day) // day 6.5: late was unsubscribed 3.5 days ago
	if got := p.Prune(context.Background(), f.clk.Now()); got.References != 1 || got.Updates != lateFeed {
		t.Errorf("the second prune deleted %+v, want late and its %d updates", got, lateFeed)
	}
	if f.exists(t, late.ID) || !f.exists(t, active.ID) {
		t.Errorf("after the scheduled prune: late %t, active %t; want late gone", f.exists(t, late.ID), f.exists(t, active.ID))
	}
	if st := f.stats(t); st.Pruned.References != 2 || st.UnsubscribedReferences != 0 || st.LastPruneAt == nil || !st.LastPruneAt.Equal(f.clk.Now()) {
		t.Errorf("stats after the second prune: %+v", st)
	}
}

// TestPruner_DeletesDeliveryLogEntriesOlderThanKeepDeliveryLog: a callback took one
// update a day for ten days; with a five-day log, the five newest attempts stay, and
// the feed's own retention is unaffected.
func TestPruner_DeletesDeliveryLogEntriesOlderThanKeepDeliveryLog(t *testing.T) {
	f := newFixture(t)
	hooked := f.create(t, "MSCU1234566", "https://hooks.example.com/ok")
	for range 10 {
		f.pollDays(t, 1, 1, hooked)
		f.deliver(t, hooked.ID, 1) // the day after the update: the clock moved
	}
	f.clk.Advance(time.Hour) // attempts were made on days 1..10; the cutoff is day 5, 1h
	p := retention.New(f.db, retention.Options{KeepDeliveryLog: 5 * day, Keep: 30 * day, Clock: f.clk})
	got := p.Prune(context.Background(), f.clk.Now())
	if got != (references.PruneCounts{Attempts: 5}) {
		t.Errorf("Prune = %+v, want the 5 attempts older than 5 days and nothing else", got)
	}
	page, err := f.db.ListDeliveries(context.Background(), account, hooked.ID, references.DeliveryQuery{Limit: 100})
	if err != nil || len(page.Deliveries) != 5 {
		t.Fatalf("delivery log = %d entries, %v; want 5", len(page.Deliveries), err)
	}
	for _, a := range page.Deliveries {
		if a.At.Before(f.clk.Now().Add(-5 * day)) {
			t.Errorf("attempt of %v kept, older than 5 days", a.At)
		}
	}
	if n := len(f.feed(t, hooked.ID)); n != 10 {
		t.Errorf("feed holds %d updates, want 10: they are younger than Keep", n)
	}
}

// TestPruner_DeletesExpiredIdempotencyKeys: a key is remembered for its 24 hours, then
// the next prune deletes it, and the prune's time is recorded either way.
func TestPruner_DeletesExpiredIdempotencyKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, _, err := f.svc.Create(ctx, account, references.CreateRequest{ContainerID: "MSCU1234566", CarrierCode: "MSCU", RequestHash: "h"}, "order-1")
	if err != nil {
		t.Fatal(err)
	}
	p := retention.New(f.db, retention.Options{Clock: f.clk})
	f.clk.Advance(references.IdempotencyTTL - time.Minute)
	if got := p.Prune(ctx, f.clk.Now()); got.Total() != 0 {
		t.Errorf("Prune within the 24 hours = %+v, want nothing", got)
	}
	if st := f.stats(t); st.LastPruneAt == nil || !st.LastPruneAt.Equal(f.clk.Now()) {
		t.Errorf("LastPruneAt = %v after a prune that found nothing, want %v", st.LastPruneAt, f.clk.Now())
	}
	f.clk.Advance(2 * time.Minute)
	if got := p.Prune(ctx, f.clk.Now()); got != (references.PruneCounts{IdempotencyKeys: 1}) {
		t.Errorf("Prune after the 24 hours = %+v, want the key", got)
	}
	if st := f.stats(t); st.Pruned.IdempotencyKeys != 1 {
		t.Errorf("Stats.Pruned = %+v, want 1 idempotency key", st.Pruned)
	}
}

// endpointCreator is the part of the store's EndpointStore this test needs.
type endpointCreator interface {
	CreateEndpoint(ctx context.Context, ep references.Endpoint, maxPerAccount int) (references.Endpoint, error)
	ListMessages(ctx context.Context, accountID, endpointID string, q references.MessageQuery) (references.MessagePage, error)
}

// TestPruner_DropsEndpointMessagesOlderThanKeepDeliveryLog: an endpoint whose receiver
// never answered got one message a day for ten days; with a five-day log, a prune
// drops the five older than that, logged as expired, and a prune six days later
// deletes those (their expiry is then older than five days too) and drops the rest.
func TestPruner_DropsEndpointMessagesOlderThanKeepDeliveryLog(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	store, ok := any(f.db).(endpointCreator)
	if !ok {
		t.Fatal("the store has no CreateEndpoint")
	}
	now := f.clk.Now()
	ep, err := store.CreateEndpoint(ctx, references.Endpoint{
		ID: references.NewID("ep_"), AccountID: account, URL: "https://receiver.example/down",
		Format: references.FormatStandard, Headers: references.HeadersStandard, Enabled: true,
		Secrets: []references.WebhookSecret{{Secret: references.NewWebhookSecret(), CreatedAt: now}}, CreatedAt: now, UpdatedAt: now,
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ref := f.create(t, "MSCU1234566", "")
	f.pollDays(t, 10, 1, ref) // a message a day, days 0..9; now is day 10
	w := watch(f.db)
	p := retention.New(w, retention.Options{KeepDeliveryLog: 5 * day, Clock: f.clk})

	if got := p.Prune(ctx, f.clk.Now()); got != (references.PruneCounts{ExpiredMessages: 5}) {
		t.Errorf("first Prune = %+v, want the 5 messages older than 5 days expired", got)
	}
	if c := <-w.calls; !c.req.Messages.Equal(f.clk.Now().Add(-5*day)) || !c.req.Messages.Equal(c.req.Attempts) {
		t.Errorf("messages cutoff %v, want now - KeepDeliveryLog, as the delivery log's (%v)", c.req.Messages, c.req.Attempts)
	}
	page, err := store.ListMessages(ctx, account, ep.ID, references.MessageQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	expired := 0
	for _, m := range page.Messages {
		if m.FailReason == references.OutcomeExpired {
			expired++
			if !m.CreatedAt.Before(f.clk.Now().Add(-5 * day)) {
				t.Errorf("message of %v expired, younger than 5 days", m.CreatedAt)
			}
		}
	}
	if len(page.Messages) != 10 || expired != 5 {
		t.Errorf("%d messages, %d expired; want all 10 kept, 5 of them expired", len(page.Messages), expired)
	}

	f.clk.Advance(6 * day)
	if got := p.Prune(ctx, f.clk.Now()); got != (references.PruneCounts{Messages: 5, ExpiredMessages: 5}) {
		t.Errorf("second Prune = %+v, want the 5 expired deleted and the 5 others expired", got)
	}
	if st := f.stats(t); st.Pruned.Messages != 5 || st.Pruned.ExpiredMessages != 10 || st.PendingDeliveries != 0 {
		t.Errorf("Stats: pruned %+v, %d pending deliveries", st.Pruned, st.PendingDeliveries)
	}
}
