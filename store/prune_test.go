package store

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// pruneUpdates prunes only updates, as PruneUpdates did before Prune took every kind.
func pruneUpdates(ctx context.Context, db *DB, cutoff time.Time, max int) (int, error) {
	got, err := db.Prune(ctx, references.PruneRequest{Updates: cutoff, Max: max})
	return int(got.Updates), err
}

// pruneUntilDone calls Prune with req until a call deletes less than req.Max, and
// returns what they deleted.
func pruneUntilDone(t testing.TB, db *DB, req references.PruneRequest) references.PruneCounts {
	t.Helper()
	var total references.PruneCounts
	for {
		got, err := db.Prune(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		total.Add(got)
		if got.Total() < int64(req.Max) {
			return total
		}
	}
}

// fullRef creates a reference of account "a" with what a tracked container gathers:
// a snapshot of 15 events, updates that each carry it, and a delivery log of as many
// 204s plus two failures with a 4 KiB response body. It is left as it is (active).
func fullRef(t *testing.T, db *DB, n, updates int) references.Reference {
	t.Helper()
	ctx := context.Background()
	now := db.clock.Now()
	ref := mustCreate(t, db, withCallback(newRef("a", fmt.Sprintf("MSCU%07d", n), now), "https://hooks.example.com/trackhook"))
	snap := &references.Shipment{Status: references.ShipmentInTransit}
	for i := range 15 {
		snap.Events = append(snap.Events, references.Event{
			ID: fmt.Sprintf("evt-%d-%d", n, i), Type: references.EventTransport, Classifier: references.ClassifierActual,
			Code: "DEPA", Time: now.Add(time.Duration(i) * time.Hour),
			Location:      &references.Location{UNLocode: "CNYTN", Name: "Yantian"},
			TransportCall: &references.TransportCall{VesselName: "MSC OSCAR", VesselIMO: "9703291", Voyage: "FE512W", ModeOfTransport: "VESSEL"},
			Description:   "Vessel departure from Yantian",
		})
	}
	res := references.PollResult{PolledAt: now, NextPollAt: now.Add(time.Hour), Shipment: snap}
	for range updates {
		res.Updates = append(res.Updates, references.Update{
			Type: references.UpdateShipment, CreatedAt: now, Shipment: snap,
			Changes: []references.Change{{Type: references.ChangeStatusChanged, Description: "in transit", New: "in_transit"}},
		})
	}
	if _, err := recordPoll(t, db, ref.ID, res); err != nil {
		t.Fatal(err)
	}
	c := claimDelivery(t, db, ref.ID)
	for i := range 2 {
		a := attempt(c.Job, references.OutcomeFailed, now)
		a.Attempt, a.ResponseBody = i+1, strings.Repeat("x", 4096)
		retry := now
		a.NextRetryAt = &retry
		if _, err := db.RecordAttempt(ctx, c.Lease, c.Job, a, ""); err != nil {
			t.Fatal(err)
		}
	}
	release(t, db, c.Lease)
	deliverAll(t, db, ref.ID)
	return ref
}

// checkIndexes fails t unless retention's indexes and the counts agree with the
// records they index and count.
func checkIndexes(t testing.TB, db *DB) {
	t.Helper()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		attempts, age := tx.Bucket(bucketAttempts), tx.Bucket(bucketAttemptsAge)
		if a, b := attempts.Stats().KeyN, age.Stats().KeyN; a != b {
			t.Errorf("%d attempts, %d entries in their time index", a, b)
		}
		err := attempts.ForEach(func(k, v []byte) error {
			at, err := attemptTime(v)
			if err == nil && age.Get(attemptKeyAge(at, k)) == nil {
				t.Errorf("attempt %q is not in the time index", k)
			}
			return err
		})
		if err != nil {
			return err
		}
		expiry := tx.Bucket(bucketIdemExpiry)
		err = tx.Bucket(bucketIdempotency).ForEach(func(k, v []byte) error {
			var rec idempotencyRecord
			if err := unmarshal(v, &rec); err != nil {
				return err
			}
			if expiry.Get(idemKeyAge(rec.ExpiresAt, k)) == nil {
				t.Errorf("idempotency record %q is not in the expiry index", k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		checkAccountFeedIndex(t, tx)
		active, unsub := map[string]int64{}, int64(0)
		err = tx.Bucket(bucketRefs).ForEach(func(k, v []byte) error {
			var ref references.Reference
			if err := decodeReference(v, &ref); err != nil {
				return err
			}
			if ref.Active() {
				active[ref.AccountID]++
				return nil
			}
			unsub++
			if tx.Bucket(bucketUnsubAge).Get(unsubKeyAge(*ref.UnsubscribedAt, ref.ID)) == nil {
				t.Errorf("unsubscribed reference %s is not in its time index", k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if n := int64(tx.Bucket(bucketUnsubAge).Stats().KeyN); n != unsub {
			t.Errorf("%d unsubscribed references, %d entries in their time index", unsub, n)
		}
		meta := tx.Bucket(bucketMeta)
		if got := readCount(meta, countUnsubscribed); got != unsub {
			t.Errorf("count of unsubscribed references %d, want %d", got, unsub)
		}
		var total int64
		err = tx.Bucket(bucketActiveCount).ForEach(func(k, v []byte) error {
			if got := readCount(tx.Bucket(bucketActiveCount), k); got != active[string(k)] {
				t.Errorf("account %s: count of active references %d, want %d", k, got, active[string(k)])
			}
			total += active[string(k)]
			return nil
		})
		for acct, n := range active {
			if tx.Bucket(bucketActiveCount).Get([]byte(acct)) == nil {
				t.Errorf("account %s has %d active references and no count", acct, n)
			}
		}
		if got := readCount(meta, countActive); got != total {
			t.Errorf("count of active references %d, want %d", got, total)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// keysNaming returns the buckets holding a key that contains id.
func keysNaming(t testing.TB, db *DB, id string) []string {
	t.Helper()
	var found []string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, _ []byte) error {
				if bytes.Contains(k, []byte(id)) {
					found = append(found, string(name))
				}
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func TestPrune_LeavesNoKeyOfADeletedReference(t *testing.T) {
	ctx := context.Background()
	db, clk := mustOpen(t)
	ref := fullRef(t, db, 1, 3)
	kept := fullRef(t, db, 2, 3)
	idem := &references.IdempotencyKey{Key: "k", RequestHash: "h", ExpiresAt: clk.Now().Add(references.IdempotencyTTL)}
	if _, _, err := db.CreateReference(ctx, newRef("a", "CSQU3054383", clk.Now()), references.CreateOptions{Idempotency: idem}); err != nil {
		t.Fatal(err)
	}
	if err := db.RequestRedelivery(ctx, "a", ref.ID, mustUpdates(t, db, ref.ID)[0].ID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	// A dead callback stops delivery: nothing is left to deliver.
	if _, err := db.UnsubscribeReference(ctx, "a", ref.ID, references.ReasonCallbackGone, clk.Now()); err != nil {
		t.Fatal(err)
	}
	updates := int64(len(mustUpdates(t, db, ref.ID)))
	checkIndexes(t, db)
	clk.Advance(time.Hour)
	got := pruneUntilDone(t, db, references.PruneRequest{Unsubscribed: clk.Now(), Max: 4})
	if want := (references.PruneCounts{References: 1, Updates: updates, Attempts: 5}); got != want {
		t.Fatalf("pruned %+v, want %+v", got, want)
	}
	if left := keysNaming(t, db, ref.ID); len(left) != 0 {
		t.Errorf("keys naming the deleted reference are left in %q", left)
	}
	if len(keysNaming(t, db, kept.ID)) == 0 {
		t.Error("the other reference lost its keys too")
	}
	checkIndexes(t, db)
}

func mustUpdates(t testing.TB, db *DB, refID string) []references.Update {
	t.Helper()
	ups, err := db.ListUpdates(context.Background(), "a", refID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	return ups
}

func TestPrune_IndexesFollowReusedIdempotencyKeys(t *testing.T) {
	ctx := context.Background()
	db, clk := mustOpen(t)
	create := func(container, hash string) {
		t.Helper()
		idem := &references.IdempotencyKey{Key: "k", RequestHash: hash, ExpiresAt: clk.Now().Add(time.Hour)}
		if _, _, err := db.CreateReference(ctx, newRef("a", container, clk.Now()), references.CreateOptions{Idempotency: idem}); err != nil {
			t.Fatal(err)
		}
	}
	create("MSCU1234566", "h1")
	clk.Advance(2 * time.Hour) // expired, not yet pruned: the key is used again
	create("CSQU3054383", "h2")
	checkIndexes(t, db)
	got, err := db.Prune(ctx, references.PruneRequest{IdempotencyKeys: clk.Now(), Max: 10})
	if err != nil || got.Total() != 0 {
		t.Fatalf("Prune = %+v, %v; want nothing: the record was written again, only its old index entry goes", got, err)
	}
	clk.Advance(2 * time.Hour)
	if got, err := db.Prune(ctx, references.PruneRequest{IdempotencyKeys: clk.Now(), Max: 10}); err != nil || got.IdempotencyKeys != 1 {
		t.Fatalf("Prune = %+v, %v; want the reused key once it expired", got, err)
	}
	err = db.bolt.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketIdempotency).Stats().KeyN + tx.Bucket(bucketIdemExpiry).Stats().KeyN; n != 0 {
			t.Errorf("%d idempotency keys and index entries left", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPrune_FreedPagesAreReused measures the store file per unsubscribed reference
// before and after retention deletes it. bbolt never shrinks its file: the pages freed
// go to its free list and are written again by later commits, so the file stays at
// its high-water mark and does not grow while as much data comes back.
func TestPrune_FreedPagesAreReused(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a few MB")
	}
	const refs, updates = 50, 10
	ctx := context.Background()
	db, clk := mustOpen(t)
	usage := func() (size, inUse int64) {
		t.Helper()
		st, err := db.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.FileBytes, st.FileBytes - int64(db.bolt.Stats().FreeAlloc)
	}
	fill := func(from int) []references.Reference {
		var out []references.Reference
		for i := range refs {
			out = append(out, fullRef(t, db, from+i, updates))
		}
		return out
	}
	emptySize, emptyUse := usage()
	for _, ref := range fill(0) {
		if _, err := db.UnsubscribeReference(ctx, "a", ref.ID, references.ReasonCallbackGone, clk.Now()); err != nil {
			t.Fatal(err)
		}
	}
	fullSize, fullUse := usage()
	clk.Advance(time.Hour)
	got := pruneUntilDone(t, db, references.PruneRequest{Unsubscribed: clk.Now(), Max: 5000})
	if got.References != refs {
		t.Fatalf("pruned %+v, want %d references", got, refs)
	}
	prunedSize, prunedUse := usage()
	fill(refs)
	refillSize, refillUse := usage()
	perRef := (fullUse - emptyUse) / refs
	t.Logf("per unsubscribed reference (%d updates with a 15-event snapshot, %d attempts, 2 with 4 KiB bodies): %d bytes in use", updates, updates+2, perRef)
	t.Logf("file: empty %d, %d references %d, after deleting them %d (in use %d -> %d), after as many new ones %d (in use %d)",
		emptySize, refs, fullSize, prunedSize, fullUse, prunedUse, refillSize, refillUse)
	if prunedSize != fullSize {
		t.Errorf("the file went from %d to %d bytes on deletion; bbolt files do not shrink", fullSize, prunedSize)
	}
	if freed := fullUse - prunedUse; freed < (fullUse-emptyUse)*9/10 {
		t.Errorf("deleting every reference freed %d of the %d bytes they used", freed, fullUse-emptyUse)
	}
	if refillSize > fullSize+fullSize/10 {
		t.Errorf("as many references again grew the file from %d to %d bytes: the freed pages were not reused", fullSize, refillSize)
	}
	checkIndexes(t, db)
}
