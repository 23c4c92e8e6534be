package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// mustOpen opens a store in a new temporary directory, closed when the test ends, on
// a fake clock that moves only when the test moves it.
func mustOpen(t testing.TB) (*DB, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	db, err := Open(filepath.Join(t.TempDir(), "trackhook.db"), Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.EnsureAccount(context.Background(), "a", "whsec_one", clk.Now()); err != nil {
		t.Fatal(err)
	}
	return db, clk
}

// testOwner is the owner of the claims the tests make.
const testOwner = "test"

// recordPoll claims refID's poll, due or not, and records res under that claim, as the
// poller does. A failed claim fails the test; the error is RecordPoll's.
func recordPoll(t testing.TB, db *DB, refID string, res references.PollResult) (references.Reference, error) {
	t.Helper()
	ctx := context.Background()
	claim, err := db.ClaimPoll(ctx, testOwner, refID, time.Minute)
	if err != nil {
		t.Fatalf("claim the poll of %s: %v", refID, err)
	}
	return db.RecordPoll(ctx, claim.Lease, res)
}

// duePolls returns the ids of up to limit references due at the store's clock, most
// overdue first. It claims them and gives the claims back, so they stay due.
func duePolls(t testing.TB, db *DB, limit int) []string {
	t.Helper()
	ctx := context.Background()
	claims, err := db.ClaimDuePolls(ctx, testOwner, limit, time.Minute)
	if err != nil {
		t.Fatalf("claim due polls: %v", err)
	}
	ids := []string{}
	for _, c := range claims {
		ids = append(ids, c.Reference.ID)
		if err := db.ReleaseLease(ctx, c.Lease); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// claimDue claims up to limit due deliveries for testOwner, with a lease of a minute.
func claimDue(t testing.TB, db *DB, limit int) []references.DeliveryClaim {
	t.Helper()
	claims, err := db.ClaimDueDeliveries(context.Background(), testOwner, limit, time.Minute)
	if err != nil {
		t.Fatalf("claim due deliveries: %v", err)
	}
	return claims
}

// dueDeliveries returns the ids of the references with a delivery due (or a
// redelivery queued) at the store's clock. It claims them and gives the claims back.
func dueDeliveries(t testing.TB, db *DB, limit int) []string {
	t.Helper()
	var ids []string
	for _, c := range claimDue(t, db, limit) {
		ids = append(ids, c.Job.Reference.ID)
		if err := db.ReleaseLease(context.Background(), c.Lease); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// claimDelivery claims refID's callback stream for testOwner, due or not, with its
// next job.
func claimDelivery(t testing.TB, db *DB, refID string) references.DeliveryClaim {
	t.Helper()
	c, err := db.ClaimDelivery(context.Background(), testOwner, refID, time.Minute)
	if err != nil {
		t.Fatalf("claim the delivery of %s: %v", refID, err)
	}
	return c
}

// release gives a claim back.
func release(t testing.TB, db *DB, lease references.Lease) {
	t.Helper()
	if err := db.ReleaseLease(context.Background(), lease); err != nil {
		t.Fatal(err)
	}
}

// mustCreate stores ref and returns it as stored.
func mustCreate(t testing.TB, db *DB, ref references.Reference) references.Reference {
	t.Helper()
	got, _, err := db.CreateReference(context.Background(), ref, references.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// withCallback returns ref with a callback URL, so its updates go to the outbox.
func withCallback(ref references.Reference, url string) references.Reference {
	ref.CallbackURL = url
	return ref
}

// newRef returns a valid, active reference for the account, due now.
func newRef(account, container string, now time.Time) references.Reference {
	next := now
	return references.Reference{
		ID: references.NewID("ref_"), AccountID: account, ContainerID: container, CarrierCode: "MAEU",
		Status: references.StatusActive, CreatedAt: now, UpdatedAt: now, NextPollAt: &next,
		PollInterval: references.Duration(15 * time.Minute),
	}
}

func TestOpen_RefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trackhook.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte("schema_version"), u64(SchemaVersion+1))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path, Options{NoSync: true}); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open of a newer schema: got %v, want ErrNewerSchema", err)
	}
}

func TestOpen_ReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trackhook.db")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.EnsureAccount(ctx, "acct", "whsec_x", now); err != nil {
		t.Fatal(err)
	}
	key, stored := references.NewAPIKey("acct", []references.Scope{references.ScopeWrite}, now)
	if err := db.CreateAPIKey(ctx, stored); err != nil {
		t.Fatal(err)
	}
	ref, _, err := db.CreateReference(ctx, newRef("acct", "MSCU1234566", now), references.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recordPoll(t, db, ref.ID, references.PollResult{
		PolledAt: now, NextPollAt: now.Add(time.Hour),
		Shipment: &references.Shipment{Status: references.ShipmentBooked},
		Updates:  []references.Update{{Type: references.UpdateShipment, CreatedAt: now}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.GetReference(ctx, "acct", ref.ID)
	if err != nil || got.LastSequence != 1 || got.NextPollAt == nil || !got.NextPollAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("reference after reopen: %+v, %v", got, err)
	}
	if k, err := db.LookupAPIKey(ctx, references.HashAPIKey(key)); err != nil || k.AccountID != "acct" {
		t.Fatalf("key after reopen: %+v, %v", k, err)
	}
	ups, err := db.ListUpdates(ctx, "acct", ref.ID, 0, 10)
	if err != nil || len(ups) != 1 || ups[0].Sequence != 1 {
		t.Fatalf("feed after reopen: %+v, %v", ups, err)
	}
	if s, err := db.Shipment(ctx, ref.ID); err != nil || s == nil || s.Status != references.ShipmentBooked {
		t.Fatalf("shipment after reopen: %+v, %v", s, err)
	}
}

func TestCreateReference_ConflictAndAccountScope(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	first, _, err := db.CreateReference(ctx, newRef("a", "MSCU1234566", clock.Now()), references.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = db.CreateReference(ctx, newRef("a", "MSCU1234566", clock.Now()), references.CreateOptions{})
	var e *references.Error
	if !errors.As(err, &e) || e.Code != references.CodeConflict || e.ReferenceID != first.ID {
		t.Fatalf("duplicate create: got %v, want conflict naming %s", err, first.ID)
	}
	// Another account may track the same container.
	if _, _, err := db.CreateReference(ctx, newRef("b", "MSCU1234566", clock.Now()), references.CreateOptions{}); err != nil {
		t.Fatalf("same container in another account: %v", err)
	}
	if _, err := db.GetReference(ctx, "b", first.ID); !errors.Is(err, references.ErrNotFound) {
		t.Fatalf("account b reading a's reference: got %v, want not found", err)
	}
	// After unsubscribing, the identifier can be tracked again.
	if _, err := db.UnsubscribeReference(ctx, "a", first.ID, references.ReasonUser, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.CreateReference(ctx, newRef("a", "MSCU1234566", clock.Now()), references.CreateOptions{}); err != nil {
		t.Fatalf("re-create after unsubscribe: %v", err)
	}
}

func TestCreateReference_Idempotency(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	idem := &references.IdempotencyKey{Key: "k1", RequestHash: "h1", ExpiresAt: clock.Now().Add(24 * time.Hour)}
	first, replayed, err := db.CreateReference(ctx, newRef("a", "MSCU1234566", clock.Now()), references.CreateOptions{Idempotency: idem})
	if err != nil || replayed {
		t.Fatalf("first create: %v replayed=%v", err, replayed)
	}
	again, replayed, err := db.CreateReference(ctx, newRef("a", "MSCU1234566", clock.Now()), references.CreateOptions{Idempotency: idem})
	if err != nil || !replayed || again.ID != first.ID {
		t.Fatalf("replay: id %s (want %s), replayed=%v, %v", again.ID, first.ID, replayed, err)
	}
	other := *idem
	other.RequestHash = "h2"
	if _, _, err := db.CreateReference(ctx, newRef("a", "CSQU3054383", clock.Now()), references.CreateOptions{Idempotency: &other}); references.ErrorCode(err) != "idempotency_mismatch" {
		t.Fatalf("same key, other request: got %v", err)
	}
	// Another account's identical key is its own.
	if _, replayed, err := db.CreateReference(ctx, newRef("b", "MSCU1234566", clock.Now()), references.CreateOptions{Idempotency: idem}); err != nil || replayed {
		t.Fatalf("other account, same key: replayed=%v %v", replayed, err)
	}
	// After the key expires it is forgotten: the create runs (and conflicts).
	clock.Advance(25 * time.Hour)
	if _, _, err := db.CreateReference(ctx, newRef("a", "MSCU1234566", clock.Now()), references.CreateOptions{Idempotency: idem}); !errors.Is(err, references.ErrConflict) {
		t.Fatalf("expired key: got %v, want conflict", err)
	}
}

func TestListReferences_PagesInCreationOrder(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	var want []string
	for i := 0; i < 23; i++ {
		ref := newRef("a", "", clock.Now())
		ref.ContainerID = ""
		ref.BookingNumber = "BK" + string(rune('A'+i)) + "0001"
		if _, _, err := db.CreateReference(ctx, ref, references.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		want = append(want, ref.ID)
		if i%2 == 0 {
			clock.Advance(time.Second) // some share a creation time
		}
		if i == 5 {
			db.UnsubscribeReference(ctx, "a", ref.ID, references.ReasonUser, clock.Now())
		}
	}
	if _, _, err := db.CreateReference(ctx, newRef("b", "MSCU1234566", clock.Now()), references.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, err := db.ListReferences(ctx, "a", references.ListQuery{Limit: 5, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.References {
			got = append(got, r.ID)
		}
		if page.NextCursor == "" {
			break
		}
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		cursor = page.NextCursor
	}
	sortedWant := append([]string(nil), want...)
	// Within one creation time the order is by id, so compare as sets plus time order.
	if len(got) != len(sortedWant) {
		t.Fatalf("got %d references over all pages, want %d", len(got), len(want))
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Fatalf("%s returned twice", id)
		}
		seen[id] = true
	}
	for _, id := range want {
		if !seen[id] {
			t.Fatalf("%s missing", id)
		}
	}
	active, err := db.ListReferences(ctx, "a", references.ListQuery{Limit: 100, Status: references.StatusActive})
	if err != nil || len(active.References) != 22 {
		t.Fatalf("active filter: %d references, %v", len(active.References), err)
	}
	if _, err := db.ListReferences(ctx, "a", references.ListQuery{Limit: 5, Cursor: "!!"}); !errors.Is(err, references.ErrInvalid) {
		t.Fatalf("bad cursor: got %v", err)
	}
}

func TestRecordPoll_AppendsFeedMovesScheduleAndQueuesDelivery(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := mustCreate(t, db, withCallback(newRef("a", "MSCU1234566", now), "https://example.com/hook"))

	if due := duePolls(t, db, 10); len(due) != 1 || due[0] != ref.ID {
		t.Fatalf("due before poll: %v", due)
	}
	next := now.Add(15 * time.Minute)
	got, err := recordPoll(t, db, ref.ID, references.PollResult{
		PolledAt: now, NextPollAt: next,
		Updates: []references.Update{
			{ID: "upd_1", Type: references.UpdateShipment, CreatedAt: now},
			{ID: "upd_2", Type: references.UpdateShipment, CreatedAt: now},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.LastSequence != 2 || got.DeliveredSequence != 0 {
		t.Fatalf("sequences: last %d delivered %d", got.LastSequence, got.DeliveredSequence)
	}
	if due := duePolls(t, db, 10); len(due) != 0 {
		t.Fatalf("still due after poll: %v", due)
	}
	out := claimDue(t, db, 10)
	if len(out) != 1 {
		t.Fatalf("outbox: %+v", out)
	}
	job := out[0].Job
	if job.Update.ID != "upd_1" || job.Attempt != 1 || len(job.Secrets) != 1 {
		t.Fatalf("claimed delivery: %+v", job)
	}
	if job.Update.Reference.ID != ref.ID || job.Update.Sequence != 1 {
		t.Fatalf("update not stamped with its reference: %+v", job.Update)
	}
	// Under the claim, NextDelivery returns the same job until it is recorded.
	if again, err := db.NextDelivery(ctx, out[0].Lease); err != nil || again.Update.ID != "upd_1" || again.Attempt != 1 {
		t.Fatalf("next delivery: %+v, %v", again, err)
	}
	clock.Set(next)
	if due := duePolls(t, db, 10); len(due) != 1 {
		t.Fatalf("not due at next poll time: %v", due)
	}
}

func TestRecordPoll_DropsResultForUnsubscribedReference(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	ref, _, _ := db.CreateReference(ctx, newRef("a", "MSCU1234566", clock.Now()), references.CreateOptions{})
	// The reference is unsubscribed while its poll is under way.
	claim, err := db.ClaimPoll(ctx, testOwner, ref.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	db.UnsubscribeReference(ctx, "a", ref.ID, references.ReasonUser, clock.Now())
	got, err := db.RecordPoll(ctx, claim.Lease, references.PollResult{
		PolledAt: clock.Now(), NextPollAt: clock.Now(),
		Updates: []references.Update{{Type: references.UpdateShipment, CreatedAt: clock.Now()}},
	})
	if err != nil || got.Active() || got.LastSequence != 1 { // the user's final update only
		t.Fatalf("poll after unsubscribe: %+v, %v", got, err)
	}
	clock.Advance(time.Hour)
	if due := duePolls(t, db, 10); len(due) != 0 {
		t.Fatalf("unsubscribed reference is due: %v", due)
	}
	// And it is not polled on demand either.
	if _, err := db.ClaimPoll(ctx, testOwner, ref.ID, time.Minute); !errors.Is(err, references.ErrConflict) {
		t.Fatalf("claim of an unsubscribed reference's poll: got %v, want a conflict", err)
	}
}

func TestRecordPoll_AutoUnsubscribeLetsFeedDrain(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := mustCreate(t, db, withCallback(newRef("a", "MSCU1234566", now), "https://example.com/hook"))
	got, err := recordPoll(t, db, ref.ID, references.PollResult{
		PolledAt: now, NextPollAt: now.Add(time.Hour),
		Updates: []references.Update{
			{Type: references.UpdateShipment, CreatedAt: now},
			{Type: references.UpdateUnsubscribed, CreatedAt: now, UnsubscribeReason: references.ReasonTrackingComplete},
		},
		Unsubscribe: references.ReasonTrackingComplete,
	})
	if err != nil || got.Active() || got.UnsubscribeReason != references.ReasonTrackingComplete {
		t.Fatalf("auto unsubscribe: %+v, %v", got, err)
	}
	c := claimDelivery(t, db, ref.ID)
	for want := uint64(1); want <= 2; want++ {
		job, err := db.NextDelivery(ctx, c.Lease)
		if err != nil || job.Update.Sequence != want {
			t.Fatalf("delivery %d after auto-unsubscribe: %+v, %v", want, job.Update, err)
		}
		if _, err := db.RecordAttempt(ctx, c.Lease, job, attempt(job, references.OutcomeDelivered, now), ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.NextDelivery(ctx, c.Lease); !errors.Is(err, references.ErrNothingToDeliver) {
		t.Fatalf("after draining: %v", err)
	}
	release(t, db, c.Lease)
}

// redeliveries returns the claims of requested redeliveries among claims.
func redeliveries(claims []references.DeliveryClaim) []references.DeliveryClaim {
	var out []references.DeliveryClaim
	for _, c := range claims {
		if c.Job.Redelivery {
			out = append(out, c)
		}
	}
	return out
}

func attempt(job references.DeliveryJob, outcome references.AttemptOutcome, at time.Time) references.DeliveryAttempt {
	return references.DeliveryAttempt{
		ReferenceID: job.Reference.ID, UpdateID: job.Update.ID, Sequence: job.Update.Sequence,
		Attempt: job.Attempt, At: at, Outcome: outcome, URL: job.Reference.CallbackURL,
	}
}

func TestOutbox_OrderRetriesGiveUpAndFilter(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := newRef("a", "MSCU1234566", now)
	ref.CallbackURL = "https://example.com/hook"
	ref.EventTypes = []string{string(references.UpdateShipment)}
	ref, _, _ = db.CreateReference(ctx, ref, references.CreateOptions{})
	recordPoll(t, db, ref.ID, references.PollResult{PolledAt: now, NextPollAt: now, Updates: []references.Update{
		{ID: "upd_1", Type: references.UpdateShipment, CreatedAt: now},
		{ID: "upd_2", Type: references.UpdateTrackingFailed, CreatedAt: now}, // filtered out
		{ID: "upd_3", Type: references.UpdateShipment, CreatedAt: now},
	}})

	c := claimDelivery(t, db, ref.ID)
	job := c.Job
	retry := now.Add(5 * time.Second)
	a := attempt(job, references.OutcomeFailed, now)
	a.NextRetryAt = &retry
	if _, err := db.RecordAttempt(ctx, c.Lease, job, a, ""); err != nil {
		t.Fatal(err)
	}
	release(t, db, c.Lease) // the worker gives the stream back until its retry
	if ids := dueDeliveries(t, db, 10); len(ids) != 0 {
		t.Fatalf("due before the retry time: %v", ids)
	}
	clock.Set(retry)
	claims := claimDue(t, db, 10)
	if len(claims) != 1 {
		t.Fatalf("not due at the retry time: %+v", claims)
	}
	c, job = claims[0], claims[0].Job
	if job.Update.ID != "upd_1" || job.Attempt != 2 || !job.FirstAttemptAt.Equal(now) {
		t.Fatalf("retry job: %s attempt %d first %v", job.Update.ID, job.Attempt, job.FirstAttemptAt)
	}
	got, _ := db.RecordAttempt(ctx, c.Lease, job, attempt(job, references.OutcomeGaveUp, retry), "")
	if got.DeliveryState != references.DeliveryFailing || got.DeliveredSequence != 1 {
		t.Fatalf("after giving up: state %q delivered %d", got.DeliveryState, got.DeliveredSequence)
	}
	job, _ = db.NextDelivery(ctx, c.Lease)
	if job.Update.ID != "upd_3" || job.Attempt != 1 {
		t.Fatalf("filtered update not skipped: got %s attempt %d", job.Update.ID, job.Attempt)
	}
	got, _ = db.RecordAttempt(ctx, c.Lease, job, attempt(job, references.OutcomeDelivered, retry), "")
	if got.DeliveryState != references.DeliveryOK || got.FailingSince != nil || got.DeliveredSequence != 3 {
		t.Fatalf("after success: %+v", got)
	}
	release(t, db, c.Lease)
	page, err := db.ListDeliveries(ctx, "a", ref.ID, references.DeliveryQuery{Limit: 2})
	if err != nil || len(page.Deliveries) != 2 || page.Deliveries[0].UpdateID != "upd_3" || page.NextCursor == "" {
		t.Fatalf("log page 1: %+v, %v", page, err)
	}
	page, err = db.ListDeliveries(ctx, "a", ref.ID, references.DeliveryQuery{Limit: 2, Cursor: page.NextCursor})
	if err != nil || len(page.Deliveries) != 1 || page.Deliveries[0].Attempt != 1 || page.NextCursor != "" {
		t.Fatalf("log page 2: %+v, %v", page, err)
	}
}

func TestOutbox_GoneUnsubscribesAndPatchRedirects(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := mustCreate(t, db, withCallback(newRef("a", "MSCU1234566", now), "https://old.example.com/hook"))
	recordPoll(t, db, ref.ID, references.PollResult{PolledAt: now, NextPollAt: now, Updates: []references.Update{
		{ID: "upd_1", Type: references.UpdateShipment, CreatedAt: now},
	}})
	newURL := "https://new.example.com/hook"
	if _, err := db.PatchReference(ctx, "a", ref.ID, references.Patch{CallbackURL: &newURL}, now); err != nil {
		t.Fatal(err)
	}
	c := claimDelivery(t, db, ref.ID)
	job := c.Job
	if job.Reference.CallbackURL != newURL || job.Update.ID != "upd_1" {
		t.Fatalf("pending update after PATCH: %+v", job)
	}
	got, err := db.RecordAttempt(ctx, c.Lease, job, attempt(job, references.OutcomeGone, now), "")
	if err != nil || got.Active() || got.UnsubscribeReason != references.ReasonCallbackGone {
		t.Fatalf("after 410: %+v, %v", got, err)
	}
	release(t, db, c.Lease)
	clock.Advance(time.Hour)
	if ids := dueDeliveries(t, db, 10); len(ids) != 0 {
		t.Fatalf("outbox after 410: %v", ids)
	}
}

func TestRedelivery(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := mustCreate(t, db, withCallback(newRef("a", "MSCU1234566", now), "https://example.com/hook"))
	recordPoll(t, db, ref.ID, references.PollResult{PolledAt: now, NextPollAt: now, Updates: []references.Update{
		{ID: "upd_1", Type: references.UpdateShipment, CreatedAt: now},
	}})
	if err := db.RequestRedelivery(ctx, "a", ref.ID, "upd_nope", now); !errors.Is(err, references.ErrNotFound) {
		t.Fatalf("unknown update: %v", err)
	}
	if err := db.RequestRedelivery(ctx, "b", ref.ID, "upd_1", now); !errors.Is(err, references.ErrNotFound) {
		t.Fatalf("other account: %v", err)
	}
	if err := db.RequestRedelivery(ctx, "a", ref.ID, "upd_1", now); err != nil {
		t.Fatal(err)
	}
	claims := claimDue(t, db, 10)
	jobs := redeliveries(claims)
	if len(jobs) != 1 || !jobs[0].Job.Redelivery || jobs[0].Job.Update.ID != "upd_1" {
		t.Fatalf("redeliveries: %+v", jobs)
	}
	job := jobs[0].Job
	got, err := db.RecordAttempt(ctx, jobs[0].Lease, job, attempt(job, references.OutcomeDelivered, now), "")
	if err != nil || got.DeliveredSequence != 0 {
		t.Fatalf("a redelivery must not move the ordered stream: %+v, %v", got, err)
	}
	for _, c := range claims {
		release(t, db, c.Lease)
	}
	if jobs := redeliveries(claimDue(t, db, 10)); len(jobs) != 0 {
		t.Fatalf("redelivery still queued: %+v", jobs)
	}
}

func TestPruneUpdates_KeepsUndelivered(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	pull, _, _ := db.CreateReference(ctx, newRef("a", "MSCU1234566", now), references.CreateOptions{})
	push := mustCreate(t, db, withCallback(newRef("a", "CSQU3054383", now), "https://example.com/hook"))
	for i := 0; i < 3; i++ {
		at := now.Add(time.Duration(i) * 24 * time.Hour)
		for _, id := range []string{pull.ID, push.ID} {
			recordPoll(t, db, id, references.PollResult{PolledAt: at, NextPollAt: at, Updates: []references.Update{{Type: references.UpdateShipment, CreatedAt: at}}})
		}
	}
	n, err := pruneUpdates(ctx, db, now.Add(36*time.Hour), 1000)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want the pull reference's 2 old updates", n, err)
	}
	if ups, _ := db.ListUpdates(ctx, "a", pull.ID, 0, 10); len(ups) != 1 || ups[0].Sequence != 3 {
		t.Fatalf("pull feed after prune: %+v", ups)
	}
	if ups, _ := db.ListUpdates(ctx, "a", push.ID, 0, 10); len(ups) != 3 {
		t.Fatalf("undelivered updates were pruned: %d left", len(ups))
	}
	// Bounded: max limits one call.
	recordPoll(t, db, pull.ID, references.PollResult{PolledAt: now, NextPollAt: now})
	if n, _ := pruneUpdates(ctx, db, now.Add(96*time.Hour), 0); n != 0 {
		t.Fatalf("max 0 deleted %d", n)
	}
}

func TestAPIKeys_RevokeAndRotateSecrets(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	if err := db.CreateAPIKey(ctx, references.APIKey{ID: "key_x", AccountID: "nobody", Hash: "h", Scopes: []references.Scope{references.ScopeRead}}); !errors.Is(err, references.ErrNotFound) {
		t.Fatalf("key for a missing account: %v", err)
	}
	_, k := references.NewAPIKey("a", []references.Scope{references.ScopeWrite}, now)
	if err := db.CreateAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RevokeAPIKey(ctx, references.KeyRevocation{Key: k.Prefix, Actor: references.ActorCLI, At: now}); err != nil {
		t.Fatal(err)
	}
	got, _ := db.LookupAPIKey(ctx, k.Hash)
	if got.RevokedAt == nil {
		t.Fatal("key not revoked")
	}
	if n, _ := db.CountAPIKeys(ctx); n != 0 {
		t.Fatalf("live keys after revoke: %d", n)
	}

	acct, err := db.RotateWebhookSecret(ctx, "a", "whsec_second", now.Add(24*time.Hour), "key_test")
	if err != nil {
		t.Fatal(err)
	}
	if live := acct.LiveSecrets(now); len(live) != 2 || live[0] != "whsec_second" {
		t.Fatalf("during grace: %v", live)
	}
	if live := acct.LiveSecrets(now.Add(25 * time.Hour)); len(live) != 1 || live[0] != "whsec_second" {
		t.Fatalf("after grace: %v", live)
	}
}

func TestBackup_IsAConsistentCopy(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	ref, _, _ := db.CreateReference(ctx, newRef("a", "MSCU1234566", clock.Now()), references.CreateOptions{})
	var buf bytes.Buffer
	n, err := db.Backup(ctx, &buf)
	if err != nil || n != int64(buf.Len()) || n == 0 {
		t.Fatalf("backup wrote %d bytes (buffer %d): %v", n, buf.Len(), err)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cp, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if _, err := cp.GetReference(ctx, "a", ref.ID); err != nil {
		t.Fatalf("reference missing from the backup: %v", err)
	}
}

func TestKeys_TimeOrder(t *testing.T) {
	a := dueKey(time.Unix(100, 0), "ref_b")
	b := dueKey(time.Unix(200, 0), "ref_a")
	if bytes.Compare(a, b) >= 0 {
		t.Fatal("due keys do not sort by time")
	}
	if got := binary.BigEndian.Uint64(timeKey(time.Unix(-5, 0))); got != 0 {
		t.Fatalf("time before 1970 encodes as %d", got)
	}
}

func TestStats_CountersFollowChanges(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	push := mustCreate(t, db, withCallback(newRef("a", "MSCU1234566", now), "https://example.com/hook"))
	pull, _, _ := db.CreateReference(ctx, newRef("a", "CSQU3054383", now), references.CreateOptions{})
	for _, id := range []string{push.ID, pull.ID} {
		recordPoll(t, db, id, references.PollResult{PolledAt: now, NextPollAt: now, Updates: []references.Update{
			{Type: references.UpdateShipment, CreatedAt: now.Add(-time.Hour)},
			{Type: references.UpdateShipment, CreatedAt: now},
		}})
	}
	db.UnsubscribeReference(ctx, "a", pull.ID, references.ReasonUser, now)
	db.UnsubscribeReference(ctx, "a", pull.ID, references.ReasonUser, now) // idempotent: counted once
	s, err := db.Stats(ctx)
	if err != nil || s.ActiveReferences != 1 || s.UnsubscribedReferences != 1 || s.PendingDeliveries != 1 || s.FileBytes == 0 {
		t.Fatalf("stats: %+v, %v", s, err)
	}
	oldest, err := db.OldestUndelivered(ctx)
	if err != nil || oldest == nil || oldest.Sequence != 1 || oldest.ReferenceID != push.ID {
		t.Fatalf("oldest undelivered: %+v, %v", oldest, err)
	}
	db.UnsubscribeReference(ctx, "a", push.ID, references.ReasonCallbackGone, now) // stops delivery
	s, _ = db.Stats(ctx)
	if s.ActiveReferences != 0 || s.UnsubscribedReferences != 2 || s.PendingDeliveries != 0 {
		t.Fatalf("after unsubscribing the pushed reference: %+v", s)
	}
	if oldest, _ := db.OldestUndelivered(ctx); oldest != nil {
		t.Fatalf("nothing is pending, got %+v", oldest)
	}
}

func TestListUpdates_AfterTheNewestIsEmpty(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := mustCreate(t, db, newRef("a", "MSCU1234566", now))
	recordPoll(t, db, ref.ID, references.PollResult{PolledAt: now, NextPollAt: now, Updates: []references.Update{
		{Type: references.UpdateShipment, CreatedAt: now}, {Type: references.UpdateShipment, CreatedAt: now},
	}})
	// ^uint64(0) is the case where seeking to after+1 would wrap around to the start.
	for after, want := range map[uint64]int{0: 2, 1: 1, 2: 0, 3: 0, ^uint64(0) - 1: 0, ^uint64(0): 0} {
		ups, err := db.ListUpdates(ctx, "a", ref.ID, after, 10)
		if err != nil || len(ups) != want {
			t.Errorf("after %d: %d updates, %v; want %d", after, len(ups), err, want)
		}
	}
}

func TestRecordAttempt_ToAnOldCallbackURLOnlyLogs(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := mustCreate(t, db, withCallback(newRef("a", "MSCU1234566", now), "https://old.example.com/hook"))
	recordPoll(t, db, ref.ID, references.PollResult{PolledAt: now, NextPollAt: now, Updates: []references.Update{
		{ID: "upd_1", Type: references.UpdateShipment, CreatedAt: now},
	}})
	c := claimDelivery(t, db, ref.ID)
	job := c.Job
	newURL := "https://new.example.com/hook"
	if _, err := db.PatchReference(ctx, "a", ref.ID, references.Patch{CallbackURL: &newURL}, now); err != nil {
		t.Fatal(err)
	}
	// The attempt to the old URL ends after the PATCH: it must not count for the new one.
	got, err := db.RecordAttempt(ctx, c.Lease, job, attempt(job, references.OutcomeDelivered, now), "")
	if err != nil || got.DeliveredSequence != 0 {
		t.Fatalf("an old URL's success marked the update delivered: %+v, %v", got, err)
	}
	next, err := db.NextDelivery(ctx, c.Lease)
	if err != nil || next.Update.ID != "upd_1" || next.Reference.CallbackURL != newURL {
		t.Fatalf("the new URL does not get the update: %+v, %v", next, err)
	}
}
