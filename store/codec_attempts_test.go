package store

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// TestDeliveryLog_EntriesWrittenAsJSONStillRead: a delivery log written before the
// binary form holds JSON entries; they are listed beside binary ones as they were
// written, and retention still reads their times.
func TestDeliveryLog_EntriesWrittenAsJSONStillRead(t *testing.T) {
	db, clk := mustOpen(t)
	ctx := context.Background()
	ref := mustCreate(t, db, newRef("a", "MSCU1234565", clk.Now()))
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("", 2*3600))
	retry := at.Add(time.Minute)
	old := references.DeliveryAttempt{
		ReferenceID: ref.ID, UpdateID: "upd_1", Sequence: 1, Attempt: 1, URL: "https://receiver.example/hook",
		At: at, StatusCode: 503, Error: "receiver answered 503", LatencyMS: 12, ResponseBody: "busy",
		Outcome: references.OutcomeFailed, NextRetryAt: &retry,
	}
	next := references.DeliveryAttempt{
		ReferenceID: ref.ID, UpdateID: "upd_1", Sequence: 1, Attempt: 2, URL: "https://receiver.example/hook",
		At: retry, StatusCode: 200, LatencyMS: 3, Outcome: references.OutcomeDelivered,
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAttempts)
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		js, err := json.Marshal(newAttemptRecord(&old)) // as the store wrote it before
		if err != nil {
			return err
		}
		if err := b.Put(join(str(ref.ID), u64(n)), js); err != nil {
			return err
		}
		return appendAttempt(tx, &next)
	})
	if err != nil {
		t.Fatal(err)
	}

	page, err := db.ListDeliveries(ctx, "a", ref.ID, references.DeliveryQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	want := []references.DeliveryAttempt{next, old}
	if len(page.Deliveries) != 2 {
		t.Fatalf("listed %d entries, want 2", len(page.Deliveries))
	}
	for i := range want {
		got := page.Deliveries[i]
		if !got.At.Equal(want[i].At) {
			t.Errorf("entry %d at %v, want %v", i, got.At, want[i].At)
		}
		got.At = want[i].At
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}

	err = db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAttempts).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			got, err := attemptTime(v)
			if err != nil {
				return err
			}
			if isJSON(v) && !got.Equal(old.At) || !isJSON(v) && !got.Equal(next.At) {
				t.Errorf("attemptTime of %q (JSON %v) = %v", k, isJSON(v), got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeliveryLog_CorruptEntriesAreErrors: a damaged binary entry is an error, never a
// panic or a wrong attempt.
func TestDeliveryLog_CorruptEntriesAreErrors(t *testing.T) {
	data := encodeAttempt(&references.DeliveryAttempt{ReferenceID: "ref_1", UpdateID: "upd_1", At: time.Unix(1, 0).UTC(), Outcome: references.OutcomeDelivered})
	for n := 1; n < len(data); n++ {
		var a references.DeliveryAttempt
		if err := decodeAttempt(data[:n], &a); err == nil {
			t.Errorf("the first %d of %d bytes decoded without an error", n, len(data))
		}
	}
	var a references.DeliveryAttempt
	if err := decodeAttempt(append(data, 0), &a); err == nil {
		t.Error("a byte too many decoded without an error")
	}
}
