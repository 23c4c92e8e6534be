package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// The bbolt side of endpoint delivery: keys, counts and the hooks the endpoint API
// calls. The behaviour every backend keeps is in storetest/endpoint_delivery.go.

// addEndpoint stores an enabled standard endpoint of account "a" as CreateEndpoint
// does (putEndpoint), changed by mod.
func addEndpoint(t testing.TB, db *DB, mod func(*references.Endpoint)) references.Endpoint {
	t.Helper()
	now := db.clock.Now()
	ep := references.Endpoint{
		ID: references.NewID("ep_"), AccountID: "a", URL: "https://receiver.example/" + fmt.Sprint(now.UnixNano()),
		Format: references.FormatStandard, Headers: references.HeadersStandard, DisableAfter: references.DefaultDisableAfter,
		Enabled: true, Secrets: []references.WebhookSecret{{Secret: "whsec_endpoint", CreatedAt: now}},
		CreatedAt: now, UpdatedAt: now,
	}
	if mod != nil {
		mod(&ep)
	}
	if err := db.update(context.Background(), func(tx *bolt.Tx) error { return putEndpoint(tx, &ep, true) }); err != nil {
		t.Fatal(err)
	}
	return ep
}

// setEnabled disables or enables ep as PatchEndpoint does: the record, and on
// enabling the hook that puts its streams back in the outbox.
func setEnabled(t testing.TB, db *DB, ep *references.Endpoint, enabled bool) {
	t.Helper()
	err := db.update(context.Background(), func(tx *bolt.Tx) error {
		stored, err := getEndpoint(tx, "a", ep.ID)
		if err != nil {
			return err
		}
		if !enabled {
			stored.Disable(references.DisabledByUser, db.clock.Now())
			*ep = stored
			return putEndpoint(tx, ep, false)
		}
		stored.Enabled, stored.DisabledReason, stored.DisabledAt = true, "", nil
		*ep = stored
		if err := putEndpoint(tx, ep, false); err != nil {
			return err
		}
		return db.endpointEnabled(tx, ep, db.clock.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// messagesOf returns an endpoint's messages in key order (stream, then sequence).
func messagesOf(t testing.TB, db *DB, endpointID string) []references.Message {
	t.Helper()
	var out []references.Message
	err := db.bolt.View(func(tx *bolt.Tx) error {
		prefix := str(endpointID)
		c := tx.Bucket(bucketMessages).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var m references.Message
			if err := decodeMessage(v, &m); err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pollUpdates records a poll of ref that brings updates of the given types, made now.
func pollUpdates(t testing.TB, db *DB, ref references.Reference, types ...references.UpdateType) {
	t.Helper()
	now := db.clock.Now()
	res := quietPoll(now, now.Add(time.Hour))
	for _, ty := range types {
		res.Updates = append(res.Updates, references.Update{
			Type: ty, CreatedAt: now,
			Changes: []references.Change{{Type: references.ChangeStatusChanged, Description: "status", Old: "booked", New: "in_transit"}},
		})
	}
	if _, err := recordPoll(t, db, ref.ID, res); err != nil {
		t.Fatal(err)
	}
}

// claimKey claims the due work whose lease key is key, giving the rest back.
func claimKey(t testing.TB, db *DB, key string) references.DeliveryClaim {
	t.Helper()
	var found *references.DeliveryClaim
	var keys []string
	for _, c := range claimDue(t, db, 100) {
		keys = append(keys, c.Lease.Key)
		if c.Lease.Key == key {
			found = &c
			continue
		}
		release(t, db, c.Lease)
	}
	if found == nil {
		t.Fatalf("%s was not claimed; claimed %q", key, keys)
	}
	return *found
}

// endpointAttempt is the record of an attempt of an endpoint job made at at.
func endpointAttempt(job references.DeliveryJob, outcome references.AttemptOutcome, at time.Time) references.DeliveryAttempt {
	return references.DeliveryAttempt{
		Destination: job.Destination, ReferenceID: job.Reference.ID, UpdateID: job.MessageID(), Sequence: job.Update.Sequence,
		Attempt: job.Attempt, URL: job.URL(), At: at, Outcome: outcome, Redelivery: job.Redelivery,
	}
}

// checkStreams checks that the delivery indexes of endpoints agree: each pending
// entry has its unfinished message and its stream's state; each state has pending
// entries, and its outbox entry while its endpoint is enabled; the outbox names only
// streams that have a state at that time; unfinished messages of live streams are
// listed; and the count of pending deliveries is the number of streams with a state.
func checkStreams(t testing.TB, db *DB) {
	t.Helper()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		states := map[string]streamState{}
		err := tx.Bucket(bucketEndpointStreams).ForEach(func(k, v []byte) error {
			var st streamState
			if err := decodeStreamState(v, &st); err != nil {
				return err
			}
			states[string(k)] = st
			return nil
		})
		if err != nil {
			return err
		}
		pending := map[string]bool{}
		err = tx.Bucket(bucketEndpointPending).ForEach(func(k, _ []byte) error {
			pending[string(k)] = true
			i := bytes.IndexByte(k, sep)
			ep, rest := string(k[:i]), k[i+1:]
			stream := string(rest[:len(rest)-9])
			m, found, err := getMessage(tx, ep, stream, bytesU64(rest[len(rest)-8:]))
			if err != nil {
				return err
			}
			if !found || finished(&m) {
				t.Errorf("pending entry %q: message found %t, status %s", k, found, m.Status)
			}
			if _, ok := states[string(streamKey(ep, stream))]; !ok {
				t.Errorf("pending entry %q has no stream state", k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for key, st := range states {
			i := strings.IndexByte(key, sep)
			ep, stream := key[:i], key[i+1:]
			if _, ok := streamHead(tx, ep, stream); !ok {
				t.Errorf("stream %s/%s has a state and no pending message", ep, stream)
			}
			e, err := getEndpoint(tx, anyAccount, ep)
			if err != nil {
				t.Errorf("stream %s/%s: %v", ep, stream, err)
				continue
			}
			if e.Enabled && tx.Bucket(bucketOutbox).Get(outboxKey(st.DueAt, ep, stream)) == nil {
				t.Errorf("stream %s/%s of an enabled endpoint is not in the outbox at %v", ep, stream, st.DueAt)
			}
		}
		callbacks := 0
		err = tx.Bucket(bucketOutbox).ForEach(func(k, _ []byte) error {
			dest, stream, _ := parseOutboxKey(k)
			if dest == references.DestinationCallback {
				callbacks++
				return nil
			}
			st, ok := states[string(streamKey(dest, stream))]
			if !ok || !st.DueAt.Equal(keyTime(k)) {
				t.Errorf("outbox entry %s/%s at %v: its stream's state is %+v (found %t)", dest, stream, keyTime(k), st, ok)
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
			var m references.Message
			if err := decodeMessage(v, &m); err != nil {
				return err
			}
			if finished(&m) || pending[string(k)] {
				return nil
			}
			if m.ReferenceID != "" && tx.Bucket(bucketRefs).Get([]byte(m.ReferenceID)) == nil {
				return nil // its reference was forgotten: the message waits for retention
			}
			t.Errorf("message %s of %s is %s and not in its stream", m.ID, m.EndpointID, m.Status)
			return nil
		})
		if err != nil {
			return err
		}
		want := int64(len(states) + tx.Bucket(bucketDelivery).Stats().KeyN)
		if got := readCount(tx.Bucket(bucketMeta), countPending); got != want {
			t.Errorf("count of pending deliveries %d, want %d (endpoint streams and callbacks)", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFanOut_RecordPollWritesAMessageToEachMatchingEndpoint(t *testing.T) {
	db, clk := mustOpen(t)
	now := clk.Now()
	all := addEndpoint(t, db, nil)
	failures := addEndpoint(t, db, func(ep *references.Endpoint) { ep.EventTypes = []string{"tracking.*"} })
	otherCarrier := addEndpoint(t, db, func(ep *references.Endpoint) { ep.Filter.CarrierCodes = []string{"HLCU"} })
	disabled := addEndpoint(t, db, func(ep *references.Endpoint) { ep.Disable(references.DisabledByUser, now) })
	ref := mustCreate(t, db, withCallback(newRef("a", "MSCU1234566", now), "https://example.com/hook"))
	pollUpdates(t, db, ref, references.UpdateShipment, references.UpdateTrackingFailed)

	for _, tc := range []struct {
		ep   references.Endpoint
		want []uint64
	}{{all, []uint64{1, 2}}, {failures, []uint64{2}}, {otherCarrier, nil}, {disabled, nil}} {
		var got []uint64
		for _, m := range messagesOf(t, db, tc.ep.ID) {
			got = append(got, m.Sequence)
			if m.Status != references.MessagePending || m.ReferenceID != ref.ID || m.CreatedAt != now || m.NextAttemptAt == nil {
				t.Errorf("message %d of %s: %+v", m.Sequence, tc.ep.ID, m)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("messages of %s: %v, want %v", tc.ep.ID, got, tc.want)
		}
	}
	got := outboxEntries(t, db)
	want := []string{
		now.Format("15:04") + " callback/" + ref.ID,
		now.Format("15:04") + " " + all.ID + "/" + ref.ID,
		now.Format("15:04") + " " + failures.ID + "/" + ref.ID,
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("outbox %q, want %q", got, want)
	}
	if st, err := db.Stats(context.Background()); err != nil || st.PendingDeliveries != 3 {
		t.Errorf("pending deliveries %d, %v; want 3 streams", st.PendingDeliveries, err)
	}
	checkStreams(t, db)
}

func TestFanOut_UnsubscribeSendsTheFinalUpdateToEndpointsEvenWhenTheCallbackIsGone(t *testing.T) {
	ctx := context.Background()
	db, clk := mustOpen(t)
	ep := addEndpoint(t, db, nil)
	ref := mustCreate(t, db, withCallback(newRef("a", "MSCU1234566", clk.Now()), "https://example.com/hook"))
	pollUpdates(t, db, ref, references.UpdateShipment)
	if _, err := db.UnsubscribeReference(ctx, "a", ref.ID, references.ReasonCallbackGone, clk.Now()); err != nil {
		t.Fatal(err)
	}
	msgs := messagesOf(t, db, ep.ID)
	if len(msgs) != 2 || msgs[1].EventType != string(references.UpdateUnsubscribed) {
		t.Fatalf("messages %+v, want the update and the final reference.unsubscribed", msgs)
	}
	if got := outboxEntries(t, db); len(got) != 1 || got[0] != clk.Now().Format("15:04")+" "+ep.ID+"/"+ref.ID {
		t.Errorf("outbox %q, want only the endpoint's stream (the callback's stopped)", got)
	}
	checkStreams(t, db)
}

func TestEndpointStream_ADisabledEndpointsStreamLeavesTheOutboxAndComesBackEnabled(t *testing.T) {
	db, clk := mustOpen(t)
	ep := addEndpoint(t, db, nil)
	ref := mustCreate(t, db, newRef("a", "MSCU1234566", clk.Now()))
	pollUpdates(t, db, ref, references.UpdateShipment, references.UpdateShipment)
	key := references.DeliveryLeaseKey(ep.ID, ref.ID)
	c := claimKey(t, db, key)
	a := endpointAttempt(c.Job, references.OutcomeFailed, clk.Now())
	retry := clk.Now().Add(time.Minute)
	a.NextRetryAt = &retry
	if _, err := db.RecordAttempt(context.Background(), c.Lease, c.Job, a, ""); err != nil {
		t.Fatal(err)
	}
	release(t, db, c.Lease)

	setEnabled(t, db, &ep, false)
	clk.Advance(time.Hour)
	if got := claimDue(t, db, 10); len(got) != 0 {
		t.Fatalf("claimed %d streams of a disabled endpoint", len(got))
	}
	if got := outboxEntries(t, db); len(got) != 0 {
		t.Errorf("outbox %q: the disabled endpoint's stream was met and should have left it", got)
	}
	checkStreams(t, db)

	setEnabled(t, db, &ep, true)
	c = claimKey(t, db, key)
	if c.Job.Update.Sequence != 1 || c.Job.Attempt != 2 || !c.Job.FirstAttemptAt.Equal(a.At) {
		t.Errorf("after re-enabling: update %d attempt %d first %v; want update 1, attempt 2, first tried %v",
			c.Job.Update.Sequence, c.Job.Attempt, c.Job.FirstAttemptAt, a.At)
	}
	checkStreams(t, db)
}

func TestEndpointStream_AMessageWhoseUpdateIsGoneExpiresAndIsPassedOver(t *testing.T) {
	ctx := context.Background()
	db, clk := mustOpen(t)
	ep := addEndpoint(t, db, nil)
	ref := mustCreate(t, db, newRef("a", "MSCU1234566", clk.Now()))
	pollUpdates(t, db, ref, references.UpdateShipment, references.UpdateShipment)
	err := db.update(ctx, func(tx *bolt.Tx) error { return tx.Bucket(bucketUpdates).Delete(updateKey(ref.ID, 1)) })
	if err != nil {
		t.Fatal(err)
	}
	c := claimKey(t, db, references.DeliveryLeaseKey(ep.ID, ref.ID))
	if c.Job.Update.Sequence != 2 {
		t.Fatalf("job of update %d, want 2: the first is gone", c.Job.Update.Sequence)
	}
	m := messagesOf(t, db, ep.ID)[0]
	if m.Status != references.MessageFailed || m.FailReason != references.OutcomeExpired || len(m.Attempts) != 1 ||
		m.Attempts[0].Outcome != references.OutcomeExpired || m.Attempts[0].Error == "" {
		t.Errorf("message of the missing update: %+v, want failed as expired with an entry saying why", m)
	}
	checkStreams(t, db)
}

func TestEndpointDeleted_RemovesItsStreamsPendingEntriesAndResends(t *testing.T) {
	ctx := context.Background()
	db, clk := mustOpen(t)
	gone := addEndpoint(t, db, nil)
	kept := addEndpoint(t, db, nil)
	ref := mustCreate(t, db, newRef("a", "MSCU1234566", clk.Now()))
	pollUpdates(t, db, ref, references.UpdateShipment)
	resend := join(str(gone.ID), []byte(messagesOf(t, db, gone.ID)[0].ID))
	err := db.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEndpointResend).Put(resend, timeKey(clk.Now()))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.update(ctx, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketEndpoints).Delete([]byte(gone.ID)); err != nil {
			return err
		}
		return db.endpointDeleted(tx, gone.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{bucketEndpointStreams, bucketEndpointPending, bucketEndpointResend, bucketOutbox} {
		err := db.bolt.View(func(tx *bolt.Tx) error {
			return tx.Bucket(b).ForEach(func(k, _ []byte) error {
				if bytes.Contains(k, []byte(gone.ID)) {
					t.Errorf("%s keeps %q of the deleted endpoint", b, k)
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := outboxEntries(t, db); len(got) != 1 || got[0] != clk.Now().Format("15:04")+" "+kept.ID+"/"+ref.ID {
		t.Errorf("outbox %q, want the other endpoint's stream", got)
	}
	if st, err := db.Stats(ctx); err != nil || st.PendingDeliveries != 1 {
		t.Errorf("pending deliveries %d, %v; want 1", st.PendingDeliveries, err)
	}
}

func TestEndpointStream_DisablingAttemptAppendsTheEventAndFansItOut(t *testing.T) {
	ctx := context.Background()
	db, clk := mustOpen(t)
	failing := addEndpoint(t, db, func(ep *references.Endpoint) { ep.EventTypes = []string{"*"} })
	watcher := addEndpoint(t, db, func(ep *references.Endpoint) { ep.EventTypes = []string{"endpoint.*"} })
	ref := mustCreate(t, db, newRef("a", "MSCU1234566", clk.Now()))
	pollUpdates(t, db, ref, references.UpdateShipment)
	c := claimKey(t, db, references.DeliveryLeaseKey(failing.ID, ref.ID))
	a := endpointAttempt(c.Job, references.OutcomeGone, clk.Now())
	a.StatusCode, a.Disable = 410, references.DisabledGone
	if _, err := db.RecordAttempt(ctx, c.Lease, c.Job, a, ""); err != nil {
		t.Fatal(err)
	}
	var ep references.Endpoint
	var e references.AccountEvent
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		if ep, err = getEndpoint(tx, "a", failing.ID); err != nil {
			return err
		}
		e, _, err = getAccountEvent(tx, "a", 1)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Enabled || ep.DisabledReason != references.DisabledGone || ep.DisabledAt == nil || ep.FailingSince == nil {
		t.Errorf("endpoint after a 410 with disable: %+v", ep)
	}
	if e.Type != references.EventEndpointDisabled || e.EndpointID != failing.ID || e.DisabledReason != references.DisabledGone {
		t.Errorf("operational event 1: %+v", e)
	}
	msgs := messagesOf(t, db, watcher.ID)
	if len(msgs) != 1 || msgs[0].ID != e.ID || msgs[0].ReferenceID != "" || msgs[0].Sequence != 1 || msgs[0].EventType != e.Type {
		t.Fatalf("watcher's messages %+v, want the event only", msgs)
	}
	for _, m := range messagesOf(t, db, failing.ID) {
		if m.ID == e.ID {
			t.Error("the event was sent to the endpoint it is about")
		}
	}
	release(t, db, c.Lease)
	ev := claimKey(t, db, references.DeliveryLeaseKey(watcher.ID, references.AccountStream))
	if ev.Job.Event == nil || ev.Job.Event.ID != e.ID || ev.Job.Reference.ID != "" || ev.Job.WebhookID() != e.ID {
		t.Errorf("the watcher's account stream job: %+v", ev.Job)
	}
	if _, err := db.RecordAttempt(ctx, ev.Lease, ev.Job, endpointAttempt(ev.Job, references.OutcomeDelivered, clk.Now()), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NextDelivery(ctx, ev.Lease); !errors.Is(err, references.ErrNothingToDeliver) {
		t.Errorf("after the event: %v, want nothing more in the account stream", err)
	}
	checkStreams(t, db)
}

func TestPruneMessages_ExpiresPendingDeletesOldFinishedAndKeepsRecentLogs(t *testing.T) {
	ctx := context.Background()
	db, clk := mustOpen(t)
	start := clk.Now()
	ep := addEndpoint(t, db, nil)
	ref := mustCreate(t, db, newRef("a", "MSCU1234566", start))
	pollUpdates(t, db, ref, references.UpdateShipment, references.UpdateShipment, references.UpdateShipment)
	key := references.DeliveryLeaseKey(ep.ID, ref.ID)
	c := claimKey(t, db, key)
	if _, err := db.RecordAttempt(ctx, c.Lease, c.Job, endpointAttempt(c.Job, references.OutcomeDelivered, start), ""); err != nil {
		t.Fatal(err)
	}
	job, err := db.NextDelivery(ctx, c.Lease)
	if err != nil {
		t.Fatal(err)
	}
	// Message 2 is finished two hours after it was made (a slow receiver).
	if _, err := db.RecordAttempt(ctx, c.Lease, job, endpointAttempt(job, references.OutcomeDelivered, start.Add(2*time.Hour)), ""); err != nil {
		t.Fatal(err)
	}
	release(t, db, c.Lease)
	clk.Advance(3 * time.Hour)
	cutoff := start.Add(time.Hour)

	got := pruneUntilDone(t, db, references.PruneRequest{Messages: cutoff, Max: 1})
	if got != (references.PruneCounts{Messages: 1, ExpiredMessages: 1}) {
		t.Fatalf("Prune = %+v, want message 1 deleted and message 3 expired", got)
	}
	msgs := messagesOf(t, db, ep.ID)
	if len(msgs) != 2 || msgs[0].Sequence != 2 || msgs[1].Sequence != 3 {
		t.Fatalf("messages left: %+v, want 2 (its log is recent) and 3", msgs)
	}
	if m := msgs[1]; m.Status != references.MessageFailed || m.FailReason != references.OutcomeExpired || m.LastAttempt().At != clk.Now() {
		t.Errorf("message 3 after the prune: %+v, want failed as expired now", m)
	}
	if got := claimDue(t, db, 10); len(got) != 0 {
		t.Errorf("%d claims after the stream's last message expired", len(got))
	}
	if st, err := db.Stats(ctx); err != nil || st.Pruned.Messages != 1 || st.Pruned.ExpiredMessages != 1 || st.PendingDeliveries != 0 {
		t.Errorf("stats %+v, %v", st, err)
	}
	checkStreams(t, db)
	clk.Advance(24 * time.Hour)
	if got := pruneUntilDone(t, db, references.PruneRequest{Messages: clk.Now(), Max: 10}); got != (references.PruneCounts{Messages: 2}) {
		t.Errorf("a day later, Prune = %+v, want both finished messages deleted", got)
	}
	if left := keysNaming(t, db, ep.ID); len(left) != 2 { // the endpoint and its account index
		t.Errorf("keys naming the endpoint after its messages went: %q", left)
	}
}

func TestForget_DropsTheReferencesEndpointStreams(t *testing.T) {
	ctx := context.Background()
	db, clk := mustOpen(t)
	ep := addEndpoint(t, db, nil)
	ref := mustCreate(t, db, newRef("a", "MSCU1234566", clk.Now()))
	pollUpdates(t, db, ref, references.UpdateShipment)
	if _, err := db.UnsubscribeReference(ctx, "a", ref.ID, references.ReasonUser, clk.Now()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if got := pruneUntilDone(t, db, references.PruneRequest{Unsubscribed: clk.Now(), Max: 100}); got.References != 1 {
		t.Fatalf("Prune = %+v, want the reference forgotten", got)
	}
	for _, b := range [][]byte{bucketEndpointStreams, bucketEndpointPending, bucketOutbox} {
		if n := bucketKeys(t, db, b); n != 0 {
			t.Errorf("%s keeps %d keys", b, n)
		}
	}
	if msgs := messagesOf(t, db, ep.ID); len(msgs) != 2 {
		t.Errorf("%d messages, want both kept until they age out", len(msgs))
	}
	checkStreams(t, db)
}

func bucketKeys(t testing.TB, db *DB, b []byte) int {
	t.Helper()
	n := 0
	if err := db.bolt.View(func(tx *bolt.Tx) error { n = tx.Bucket(b).Stats().KeyN; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEndpointStream_AFixedBatchOutlivesAChangeOfBatchSizeAndFormat(t *testing.T) {
	ctx := context.Background()
	db, clk := mustOpen(t)
	ep := addEndpoint(t, db, func(ep *references.Endpoint) { ep.Format, ep.BatchSize = references.FormatBatch, 3 })
	ref := mustCreate(t, db, newRef("a", "MSCU1234566", clk.Now()))
	pollUpdates(t, db, ref, references.UpdateShipment, references.UpdateShipment, references.UpdateShipment)
	key := references.DeliveryLeaseKey(ep.ID, ref.ID)
	change := func(mod func(*references.Endpoint)) {
		t.Helper()
		mod(&ep)
		if err := db.update(ctx, func(tx *bolt.Tx) error { return putEndpoint(tx, &ep, false) }); err != nil {
			t.Fatal(err)
		}
	}
	fail := func(c references.DeliveryClaim) {
		t.Helper()
		a := endpointAttempt(c.Job, references.OutcomeFailed, clk.Now())
		a.NextRetryAt = new(clk.Now())
		if _, err := db.RecordAttempt(ctx, c.Lease, c.Job, a, ""); err != nil {
			t.Fatal(err)
		}
		release(t, db, c.Lease)
	}
	c := claimKey(t, db, key)
	fixed := c.Job.BatchID
	fail(c)
	change(func(ep *references.Endpoint) { ep.BatchSize = 1 })
	c = claimKey(t, db, key)
	if len(c.Job.Batch) != 3 || c.Job.BatchID != fixed || c.Job.Attempt != 2 {
		t.Fatalf("after a smaller batch size: %d updates as %q, attempt %d; want the fixed batch of 3 as %q", len(c.Job.Batch), c.Job.BatchID, c.Job.Attempt, fixed)
	}
	fail(c)
	change(func(ep *references.Endpoint) { ep.Format = references.FormatStandard })
	c = claimKey(t, db, key)
	if c.Job.Batch != nil || c.Job.BatchID != "" || c.Job.Update.Sequence != 1 {
		t.Fatalf("after the format changed to standard: batch %d %q, update %d; want update 1 alone", len(c.Job.Batch), c.Job.BatchID, c.Job.Update.Sequence)
	}
	if _, err := db.RecordAttempt(ctx, c.Lease, c.Job, endpointAttempt(c.Job, references.OutcomeDelivered, clk.Now()), ""); err != nil {
		t.Fatal(err)
	}
	if next, err := db.NextDelivery(ctx, c.Lease); err != nil || next.Update.Sequence != 2 || next.Attempt != 1 {
		t.Fatalf("after delivering update 1: update %d attempt %d, %v; want update 2, attempt 1", next.Update.Sequence, next.Attempt, err)
	}
	checkStreams(t, db)
}
