package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// Tests of endpoints and their delivery that the conformance suite cannot make:
// several instances (*DB values) on one database at once, on the database's clock.

const acctEndpoints = "acct_poll" // the account createDue makes references in

// newTestEndpoint stores an enabled endpoint of acctEndpoints through db; mod changes
// it before it is stored.
func newTestEndpoint(t *testing.T, db *DB, mod func(*references.Endpoint)) references.Endpoint {
	t.Helper()
	now := time.Now().UTC()
	ep := references.Endpoint{
		ID: references.NewID("ep_"), AccountID: acctEndpoints, URL: "https://receiver.example/endpoint",
		Format: references.FormatStandard, Headers: references.HeadersStandard, DisableAfter: references.DefaultDisableAfter,
		Enabled: true, Secrets: []references.WebhookSecret{{Secret: "whsec_" + references.NewID(""), CreatedAt: now}},
		CreatedAt: now, UpdatedAt: now,
	}
	if mod != nil {
		mod(&ep)
	}
	stored, err := db.CreateEndpoint(context.Background(), ep, 0)
	if err != nil {
		t.Fatalf("CreateEndpoint: %v", err)
	}
	return stored
}

// pollWithUpdate records a poll of each reference that brings one shipment update.
func pollWithUpdate(t *testing.T, db *DB, ids []string) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		c, err := db.ClaimPoll(ctx, "poller", id, time.Minute)
		if err != nil {
			t.Fatalf("ClaimPoll(%s): %v", id, err)
		}
		now := time.Now().UTC()
		u := references.Update{ID: references.NewID("upd_"), Type: references.UpdateShipment, CreatedAt: now,
			Changes: []references.Change{{Type: references.ChangeStatusChanged, Description: "status changed"}}}
		res := references.PollResult{PolledAt: now, NextPollAt: now.Add(time.Hour), Updates: []references.Update{u}}
		if _, err := db.RecordPoll(ctx, c.Lease, res); err != nil {
			t.Fatalf("RecordPoll(%s): %v", id, err)
		}
	}
}

// endpointAttemptOf is the record of an attempt of an endpoint's job made now.
func endpointAttemptOf(job references.DeliveryJob, o references.AttemptOutcome) references.DeliveryAttempt {
	return references.DeliveryAttempt{
		Destination: job.Destination, ReferenceID: job.Update.ReferenceID, UpdateID: job.MessageID(),
		Sequence: job.Update.Sequence, Attempt: job.Attempt, URL: job.URL(), At: time.Now().UTC(),
		StatusCode: 500, LatencyMS: 10, Outcome: o,
	}
}

// Two instances creating endpoints of one account at once never pass its quota
// together: the count is read under a lock of the account's creates.
func TestEndpointQuotaHoldsAcrossInstances(t *testing.T) {
	dbs := openInstances(t, 2)
	const quota = 5
	var mu sync.Mutex
	created, refused := 0, 0
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := dbs[i%2]
			now := time.Now().UTC()
			ep := references.Endpoint{ID: references.NewID("ep_"), AccountID: acctEndpoints, URL: "https://receiver.example/q",
				Enabled: true, CreatedAt: now, UpdatedAt: now}
			_, err := db.CreateEndpoint(context.Background(), ep, quota)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case references.ErrorCode(err) == references.CodeQuotaExceeded:
				refused++
			default:
				t.Errorf("CreateEndpoint: %v", err)
			}
		}()
	}
	wg.Wait()
	if created != quota || refused != 16-quota {
		t.Errorf("%d created and %d refused under a quota of %d, want %d and %d", created, refused, quota, quota, 16-quota)
	}
}

// Two endpoints that subscribe to each other's operational events give up messages on
// two instances at once: every message given up appends message.attempt.exhausted to
// the account's feed, numbered without gap or duplicate across the instances, and
// queues it for the other endpoint, which gets each once. (Transactions that lock the
// two endpoints' streams in opposite orders meet here; a deadlock is run again.)
func TestOperationalEventsAcrossInstancesAreGaplessAndFannedOut(t *testing.T) {
	dbs := openInstances(t, 2)
	ctx := context.Background()
	subscribe := func(ep *references.Endpoint) { ep.EventTypes, ep.MaxAttempts = []string{"*"}, 1 }
	eps := []references.Endpoint{newTestEndpoint(t, dbs[0], subscribe), newTestEndpoint(t, dbs[0], subscribe)}
	const refs = 20
	pollWithUpdate(t, dbs[0], createDue(t, dbs[0], refs))

	var wg sync.WaitGroup
	for i, db := range dbs {
		for w := range 3 {
			owner := fmt.Sprintf("instance-%d/worker-%d", i, w)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for idle := 0; idle < 3; {
					claims, err := db.ClaimDueDeliveries(ctx, owner, 4, time.Minute)
					if err != nil {
						t.Errorf("%s: ClaimDueDeliveries: %v", owner, err)
						return
					}
					if len(claims) == 0 {
						idle++
						time.Sleep(20 * time.Millisecond)
						continue
					}
					idle = 0
					for _, c := range claims {
						if err := giveUpStream(ctx, db, c); err != nil {
							t.Errorf("%s: %s: %v", owner, c.Lease.Key, err)
							return
						}
					}
				}
			}()
		}
	}
	wg.Wait()

	events, err := dbs[1].ListAccountEvents(ctx, acctEndpoints, 0, references.MaxPageSize)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2*refs {
		t.Fatalf("%d operational events, want %d: one per message given up", len(events), 2*refs)
	}
	for i, e := range events {
		if e.Sequence != uint64(i+1) || e.Type != references.EventMessageAttemptExhausted {
			t.Fatalf("event %d: sequence %d type %s, want %d, message.attempt.exhausted", i, e.Sequence, e.Type, i+1)
		}
	}
	for i, ep := range eps {
		other := eps[1-i]
		page, err := dbs[1].ListMessages(ctx, acctEndpoints, ep.ID, references.MessageQuery{Limit: references.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		var gaveUp, eventsGot int
		for _, m := range page.Messages {
			switch {
			case m.ReferenceID != "" && m.Status == references.MessageFailed && len(m.Attempts) == 1:
				gaveUp++
			case m.ReferenceID == "" && m.Status == references.MessageSucceeded && len(m.Attempts) == 1:
				eventsGot++
			default:
				t.Errorf("%s: message %s of %q is %s after %d attempts", ep.ID, m.ID, m.ReferenceID, m.Status, len(m.Attempts))
			}
		}
		if gaveUp != refs || eventsGot != refs {
			t.Errorf("%s gave up %d messages and got %d events (of %s's), want %d and %d", ep.ID, gaveUp, eventsGot, other.ID, refs, refs)
		}
	}
}

// giveUpStream works one claim as the notifier does: updates are given up at their
// first attempt, operational events delivered, until the stream is drained.
func giveUpStream(ctx context.Context, db *DB, c references.DeliveryClaim) error {
	for job := c.Job; ; {
		o := references.OutcomeGaveUp
		if job.Event != nil {
			o = references.OutcomeDelivered
		}
		if _, err := db.RecordAttempt(ctx, c.Lease, job, endpointAttemptOf(job, o), ""); err != nil {
			return fmt.Errorf("RecordAttempt: %w", err)
		}
		next, err := db.NextDelivery(ctx, c.Lease)
		if errors.Is(err, references.ErrNothingToDeliver) {
			return db.ReleaseLease(ctx, c.Lease)
		}
		if err != nil {
			return fmt.Errorf("NextDelivery: %w", err)
		}
		job = next
	}
}

// Polls fanning updates out while another instance deletes and re-creates the
// account's endpoints never fail: a message for an endpoint deleted meanwhile is
// passed over rather than breaking the poll's transaction on the foreign key.
func TestFanOutWhileEndpointsAreDeleted(t *testing.T) {
	dbs := openInstances(t, 2)
	ctx := context.Background()
	ids := createDue(t, dbs[0], 40)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			ep := newTestEndpoint(t, dbs[1], nil)
			if err := dbs[1].DeleteEndpoint(ctx, acctEndpoints, ep.ID); err != nil {
				t.Errorf("DeleteEndpoint: %v", err)
				return
			}
		}
	}()
	for range 3 {
		pollWithUpdate(t, dbs[0], ids)
	}
	close(done)
	wg.Wait()
	// Whatever stream rows the race left point at endpoints that are gone: a claim
	// removes them without handing them out.
	claims, err := dbs[0].ClaimDueDeliveries(ctx, "checker", 1000, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range claims {
		t.Errorf("claimed %s of a deleted endpoint", c.Lease.Key)
	}
	var left int
	if err := dbs[0].pool.QueryRow(ctx, "SELECT count(*) FROM delivery_streams WHERE destination <> 'callback'").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d endpoint stream rows left after the claim", left)
	}
}

// A stream whose endpoint is disabled after it was claimed waits, with its state,
// when its lease holder asks for the next job; enabled again, it goes on from where
// it stopped.
func TestAStreamDisabledUnderItsLeaseWaitsWithItsState(t *testing.T) {
	dbs := openInstances(t, 1)
	db, ctx := dbs[0], context.Background()
	ep := newTestEndpoint(t, db, nil)
	ref := createDue(t, db, 1)[0]
	pollWithUpdate(t, db, []string{ref})
	key := references.DeliveryLeaseKey(ep.ID, ref)
	claim := func(owner string) references.DeliveryClaim {
		t.Helper()
		claims, err := db.ClaimDueDeliveries(ctx, owner, 10, time.Minute)
		if err != nil || len(claims) != 1 || claims[0].Lease.Key != key {
			t.Fatalf("ClaimDueDeliveries = %+v, %v; want %s", claims, err, key)
		}
		return claims[0]
	}
	c := claim("owner-1")
	failed := endpointAttemptOf(c.Job, references.OutcomeFailed)
	retry := failed.At // due again at once
	failed.NextRetryAt = &retry
	if _, err := db.RecordAttempt(ctx, c.Lease, c.Job, failed, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PatchEndpoint(ctx, acctEndpoints, ep.ID, func(e *references.Endpoint) error {
		e.Disable(references.DisabledByUser, time.Now().UTC())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NextDelivery(ctx, c.Lease); !errors.Is(err, references.ErrNothingToDeliver) {
		t.Fatalf("NextDelivery of a disabled endpoint's stream = %v, want ErrNothingToDeliver", err)
	}
	if claims, err := db.ClaimDueDeliveries(ctx, "owner-2", 10, time.Minute); err != nil || len(claims) != 0 {
		t.Fatalf("claims while the endpoint is disabled = %d, %v; want none", len(claims), err)
	}
	if _, err := db.PatchEndpoint(ctx, acctEndpoints, ep.ID, func(e *references.Endpoint) error {
		e.Enabled, e.DisabledReason, e.DisabledAt = true, "", nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	again := claim("owner-3")
	if again.Job.Update.ID != c.Job.Update.ID || again.Job.Attempt != 2 || !again.Job.FirstAttemptAt.Equal(failed.At.Truncate(time.Microsecond)) {
		t.Errorf("after re-enabling: %s attempt %d first %v; want %s attempt 2 first %v",
			again.Job.Update.ID, again.Job.Attempt, again.Job.FirstAttemptAt, c.Job.Update.ID, failed.At)
	}
}
