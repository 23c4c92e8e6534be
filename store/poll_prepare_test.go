package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// errRollBack makes a test's write transaction roll back after it looked.
var errRollBack = errors.New("roll back")

// preparedSetup stores a reference with a callback and a first snapshot, and returns
// the store, the reference's id and a second poll of it whose snapshot moved its
// first estimate by a day. Both polls schedule the next at the same time, so that a
// transaction rolled back leaves the schedule's durable key as the file has it.
func preparedSetup(t *testing.T) (*DB, string, references.PollResult) {
	t.Helper()
	db, clk := mustOpen(t)
	now := clk.Now()
	ref := mustCreate(t, db, withCallback(newRef("a", "MSCU1234566", now), "https://example.com/hook"))
	first := benchShipment(t)
	next := now.Add(time.Hour)
	res := changedPoll(first, now)
	res.NextPollAt, res.Updates[0].ID = next, "upd_first"
	if _, err := recordPoll(t, db, ref.ID, res); err != nil {
		t.Fatal(err)
	}
	second := benchShipment(t)
	eta := second.Events[0].Time.Add(24 * time.Hour)
	second.Events[0].Time = eta
	second.ETA = &eta
	res = changedPoll(second, now.Add(time.Minute))
	res.NextPollAt, res.Updates[0].ID = next, "upd_second"
	return db, ref.ID, res
}

// dumpAfterPoll runs writePoll with prep in a transaction that it rolls back, and
// returns every key and value of the file as the transaction left them.
func dumpAfterPoll(t *testing.T, db *DB, refID string, res references.PollResult, prep *preparedPoll) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		if _, err := db.writePoll(tx, refID, &res, prep); err != nil {
			return err
		}
		err := tx.ForEach(func(name []byte, b *bolt.Bucket) error { return dumpBucket(got, string(name), b) })
		if err != nil {
			return err
		}
		return errRollBack
	})
	if !errors.Is(err, errRollBack) {
		t.Fatal(err)
	}
	return got
}

func dumpBucket(into map[string]string, path string, b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		name := fmt.Sprintf("%s/%q", path, k)
		if sub := b.Bucket(k); sub != nil {
			return dumpBucket(into, name, sub)
		}
		into[name] = string(v)
		return nil
	})
}

func TestWritePoll_PreparedWritesWhatTheTransactionWould(t *testing.T) {
	db, refID, res := preparedSetup(t)
	prep := db.preparePoll(context.Background(), refID, &res)
	if prep == nil {
		t.Fatal("a changed poll of an active reference was not prepared")
	}
	want := dumpAfterPoll(t, db, refID, res, nil)
	got := dumpAfterPoll(t, db, refID, res, prep)
	if !prep.used {
		t.Fatal("the transaction did not use the prepared poll")
	}
	if !maps.Equal(got, want) {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: prepared %q, in the transaction %q", k, got[k], v)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: written only by the prepared poll", k)
			}
		}
	}
}

func TestPreparedPoll_TakenOnlyWhenItsValuesAreStillStored(t *testing.T) {
	// rewrite changes one of the values a poll is prepared from.
	rewrite := func(bucket []byte) func(*bolt.Tx, string) error {
		return func(tx *bolt.Tx, refID string) error {
			b := tx.Bucket(bucket)
			v := append(b.Get([]byte(refID)), 0) // a trailing byte: other bytes
			return b.Put([]byte(refID), v)
		}
	}
	tests := []struct {
		name    string
		between func(*bolt.Tx, string) error // written after the poll was prepared; nil: nothing
		taken   bool
	}{
		{"nothing written meanwhile", nil, true},
		{"reference written", rewrite(bucketRefs), false},
		{"snapshot written", rewrite(bucketShipments), false},
		{"search facts written", rewrite(bucketRefFacts), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, refID, res := preparedSetup(t)
			prep := db.preparePoll(context.Background(), refID, &res)
			if prep == nil {
				t.Fatal("not prepared")
			}
			if tc.between != nil {
				if err := db.bolt.Update(func(tx *bolt.Tx) error { return tc.between(tx, refID) }); err != nil {
					t.Fatal(err)
				}
			}
			err := db.bolt.View(func(tx *bolt.Tx) error {
				if got := prep.take(tx, refID) != nil; got != tc.taken {
					t.Errorf("taken: %v, want %v", got, tc.taken)
				}
				if again := prep.take(tx, refID); again != nil {
					t.Error("taken a second time: a transaction run again must read afresh")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPreparePoll_LeavesTheUnusualToTheTransaction(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, db *DB, refID string, res *references.PollResult)
	}{
		{"no snapshot", func(t *testing.T, db *DB, refID string, res *references.PollResult) {
			res.Shipment = nil
		}},
		{"ends tracking", func(t *testing.T, db *DB, refID string, res *references.PollResult) {
			res.Unsubscribe = references.ReasonTrackingComplete
		}},
		{"paused", func(t *testing.T, db *DB, refID string, res *references.PollResult) {
			if _, err := db.PauseReference(ctx, "a", refID, res.PolledAt); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, refID, res := preparedSetup(t)
			tc.setup(t, db, refID, &res)
			if prep := db.preparePoll(ctx, refID, &res); prep != nil {
				t.Fatal("prepared")
			}
		})
	}
}
