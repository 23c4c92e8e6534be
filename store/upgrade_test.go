package store

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// TestUpgrade_RebuildsWhatSchema1Lacks writes a store, takes it back to schema 1 (the
// buckets schema 2 added emptied, the version set to 1) and opens it again: the upgrade
// rebuilds retention's indexes and the accounts' counts, which then agree with the
// records, and a quota counts the references made before.
func TestUpgrade_RebuildsWhatSchema1Lacks(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	path := filepath.Join(t.TempDir(), "trackhook.db")
	db, err := Open(path, Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.EnsureAccount(ctx, "a", "whsec_one", clk.Now()); err != nil {
		t.Fatal(err)
	}
	refs := []references.Reference{fullRef(t, db, 1, 2), fullRef(t, db, 2, 2), fullRef(t, db, 3, 2)}
	if _, err := db.UnsubscribeReference(ctx, "a", refs[0].ID, references.ReasonCallbackGone, clk.Now()); err != nil {
		t.Fatal(err)
	}
	idem := &references.IdempotencyKey{Key: "k", RequestHash: "h", ExpiresAt: clk.Now().Add(time.Hour)}
	if _, _, err := db.CreateReference(ctx, newRef("b", "CSQU3054383", clk.Now()), references.CreateOptions{Idempotency: idem}); err != nil {
		t.Fatal(err)
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketAttemptsAge, bucketIdemExpiry, bucketUnsubAge, bucketActiveCount} {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put([]byte("schema_version"), u64(1))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path, Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatalf("open a schema 1 file: %v", err)
	}
	defer db.Close()
	checkIndexes(t, db)
	_, _, err = db.CreateReference(ctx, newRef("a", "MSCU7654321", clk.Now()), references.CreateOptions{MaxActive: 2})
	if references.ErrorCode(err) != references.CodeQuotaExceeded {
		t.Errorf("create in an account with 2 active references under a quota of 2: %v, want quota_exceeded", err)
	}
	clk.Advance(2 * time.Hour)
	got := pruneUntilDone(t, db, references.PruneRequest{Unsubscribed: clk.Now(), IdempotencyKeys: clk.Now(), Max: 100})
	if got.References != 1 || got.IdempotencyKeys != 1 {
		t.Errorf("prune after the upgrade = %+v, want the unsubscribed reference and the expired key", got)
	}
}

func TestEachInBatches_VisitsEveryEntryOnce(t *testing.T) {
	db, clk := mustOpen(t)
	for i := range 10 {
		mustCreate(t, db, newRef("a", "MSCU"+string(rune('0'+i))+"000000", clk.Now()))
	}
	var seen []string
	txs := map[int]int{} // transaction id -> entries it was given
	err := db.eachInBatches(bucketRefs, 3, func(tx *bolt.Tx, k, _ []byte) error {
		txs[tx.ID()]++
		seen = append(seen, string(k))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	distinct := slices.Compact(slices.Sorted(slices.Values(seen)))
	if len(seen) != 10 || len(distinct) != 10 || !slices.IsSorted(seen) {
		t.Errorf("visited %q; want the 10 keys once each, in order", seen)
	}
	sizes := slices.Sorted(maps.Values(txs))
	if !slices.Equal(sizes, []int{1, 3, 3, 3}) {
		t.Errorf("entries per transaction %v, want batches of 3 and the last 1", sizes)
	}
}

// outboxEntries lists the outbox as "HH:MM destination/stream", failing the test on a
// key that is not of schema 3.
func outboxEntries(t testing.TB, db *DB) []string {
	t.Helper()
	var out []string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).ForEach(func(k, _ []byte) error {
			dest, stream, ok := parseOutboxKey(k)
			if !ok {
				t.Errorf("outbox key %q is not of schema 3", k)
			}
			out = append(out, keyTime(k).Format("15:04")+" "+dest+"/"+stream)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// toSchema2Outbox writes the outbox's keys back in the form of schema 2 (due time and
// reference id), but the first keep of them, as an upgrade interrupted after
// rewriting those would leave it.
func toSchema2Outbox(t *testing.T, db *DB, keep int) {
	t.Helper()
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		var keys [][]byte
		_ = tx.Bucket(bucketOutbox).ForEach(func(k, _ []byte) error {
			keys = append(keys, bytes.Clone(k))
			return nil
		})
		for _, k := range keys[keep:] {
			_, stream, _ := parseOutboxKey(k)
			if err := tx.Bucket(bucketOutbox).Delete(k); err != nil {
				return err
			}
			if err := tx.Bucket(bucketOutbox).Put(dueKey(keyTime(k), stream), nil); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put([]byte("schema_version"), u64(2))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUpgrade_RewritesTheOutboxOfSchema2AndResumesWhereItStopped: a file of schema 2
// whose outbox rewrite was interrupted (some keys in the new form, the version still
// 2) opens with every key in the new form, each stream once, due when it was; the
// rewrite goes in batches and does nothing the second time.
func TestUpgrade_RewritesTheOutboxOfSchema2AndResumesWhereItStopped(t *testing.T) {
	ctx := context.Background()
	db, clk := mustOpen(t)
	path := db.Path()
	start := clk.Now()
	for i := range 5 {
		clk.Set(start.Add(time.Duration(i) * time.Minute))
		ref := mustCreate(t, db, withCallback(newRef("a", fmt.Sprintf("MSCU%07d", i), clk.Now()), "https://hooks.example.com/h"))
		res := quietPoll(clk.Now(), clk.Now().Add(time.Hour))
		res.Updates = []references.Update{{Type: references.UpdateShipment, CreatedAt: clk.Now()}}
		if _, err := recordPoll(t, db, ref.ID, res); err != nil {
			t.Fatal(err)
		}
	}
	want := outboxEntries(t, db)
	if len(want) != 5 {
		t.Fatalf("outbox before: %q", want)
	}
	toSchema2Outbox(t, db, 2)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatalf("open a schema 2 file: %v", err)
	}
	defer db.Close()
	if got := outboxEntries(t, db); !slices.Equal(got, want) {
		t.Fatalf("outbox after the upgrade: %q, want %q", got, want)
	}
	if got := dueDeliveries(t, db, 10); len(got) != 5 {
		t.Errorf("%d streams due after the upgrade, want 5", len(got))
	}

	toSchema2Outbox(t, db, 0)
	before := lastTx(t, db)
	if err := db.rewriteOutboxKeys(2); err != nil {
		t.Fatal(err)
	}
	if n := lastTx(t, db) - before; n != 3 {
		t.Errorf("rewriting 5 keys in batches of 2 took %d transactions, want 3", n)
	}
	if got := outboxEntries(t, db); !slices.Equal(got, want) {
		t.Fatalf("outbox after rewriting: %q, want %q", got, want)
	}
	if err := db.rewriteOutboxKeys(2); err != nil {
		t.Fatal(err)
	}
	if got := outboxEntries(t, db); !slices.Equal(got, want) {
		t.Errorf("outbox after rewriting twice: %q, want %q", got, want)
	}
	if st, err := db.Stats(ctx); err != nil || st.PendingDeliveries != 5 {
		t.Errorf("pending deliveries %d, %v; want 5", st.PendingDeliveries, err)
	}
}
