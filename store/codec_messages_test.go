package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// sampleMessage is a message as a failed try of a batch leaves it, in a zone other
// than UTC, with its attempt log.
func sampleMessage() *references.Message {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("", 2*3600))
	retry := at.Add(time.Minute)
	return &references.Message{
		EndpointID: "ep_1", AccountID: "a", ID: "upd_1", ReferenceID: "ref_1", Sequence: 7,
		EventType: "shipment.updated", Tags: []string{"eta_changed", "eta_changed_6h"}, CreatedAt: at,
		Status: references.MessageSending, NextAttemptAt: &retry, BatchID: "bat_1",
		Attempts: []references.DeliveryAttempt{{
			Destination: "ep_1", ReferenceID: "ref_1", UpdateID: "upd_1", Sequence: 7, Attempt: 1,
			URL: "https://receiver.example/hook", At: at, StatusCode: 503, Error: "503 Service Unavailable",
			LatencyMS: 12, ResponseBody: "busy", Outcome: references.OutcomeFailed, NextRetryAt: &retry,
		}},
	}
}

// TestCodec_MessagesAndStreamStatesWrittenAsJSONStillRead: stores written before the
// binary form hold JSON values; they must decode to what the binary form gives.
func TestCodec_MessagesAndStreamStatesWrittenAsJSONStillRead(t *testing.T) {
	m := sampleMessage()
	js, err := json.Marshal(newMessageRecord(m))
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON, fromBinary references.Message
	if err := decodeMessage(js, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := decodeMessage(encodeMessage(m), &fromBinary); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJSON, fromBinary) {
		t.Errorf("message:\nfrom JSON   %+v\nfrom binary %+v", fromJSON, fromBinary)
	}

	first := m.CreatedAt
	st := &streamState{DueAt: first.Add(time.Minute), Attempts: 2, FirstAttemptAt: &first, BatchID: "bat_1", BatchEnd: 9}
	js, err = json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var stJSON, stBinary streamState
	if err := decodeStreamState(js, &stJSON); err != nil {
		t.Fatal(err)
	}
	if err := decodeStreamState(encodeStreamState(st), &stBinary); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stJSON, stBinary) {
		t.Errorf("stream state:\nfrom JSON   %+v\nfrom binary %+v", stJSON, stBinary)
	}
}

// TestEndpointStream_GoesOnFromJSONRecords: a stream half way through a retry, with
// its message and state rewritten as JSON (as the store wrote them before), is
// claimed, retried and finished as if nothing had changed, and its values are then
// binary.
func TestEndpointStream_GoesOnFromJSONRecords(t *testing.T) {
	ctx := context.Background()
	db, clk := mustOpen(t)
	ep := addEndpoint(t, db, nil)
	ref := mustCreate(t, db, newRef("a", "MSCU1234566", clk.Now()))
	pollUpdates(t, db, ref, references.UpdateShipment, references.UpdateShipment)
	key := references.DeliveryLeaseKey(ep.ID, ref.ID)
	c := claimKey(t, db, key)
	failed := endpointAttempt(c.Job, references.OutcomeFailed, clk.Now())
	retry := clk.Now().Add(time.Minute)
	failed.NextRetryAt = &retry
	if _, err := db.RecordAttempt(ctx, c.Lease, c.Job, failed, ""); err != nil {
		t.Fatal(err)
	}
	release(t, db, c.Lease)

	asJSONIn := func(tx *bolt.Tx, bucket []byte, toJSON func(v []byte) ([]byte, error)) error {
		b := tx.Bucket(bucket)
		values := map[string][]byte{}
		err := b.ForEach(func(k, v []byte) error {
			js, err := toJSON(v)
			values[string(k)] = js
			return err
		})
		for k, v := range values {
			if err == nil {
				err = b.Put([]byte(k), v)
			}
		}
		return err
	}
	err := db.update(ctx, func(tx *bolt.Tx) error {
		err := asJSONIn(tx, bucketMessages, func(v []byte) ([]byte, error) {
			var m references.Message
			if err := decodeMessage(v, &m); err != nil {
				return nil, err
			}
			return json.Marshal(newMessageRecord(&m))
		})
		if err != nil {
			return err
		}
		return asJSONIn(tx, bucketEndpointStreams, func(v []byte) ([]byte, error) {
			var st streamState
			if err := decodeStreamState(v, &st); err != nil {
				return nil, err
			}
			return json.Marshal(&st)
		})
	})
	if err != nil {
		t.Fatal(err)
	}

	clk.Advance(time.Hour)
	c = claimKey(t, db, key)
	if c.Job.Update.Sequence != 1 || c.Job.Attempt != 2 || !c.Job.FirstAttemptAt.Equal(failed.At) {
		t.Fatalf("from JSON records: update %d attempt %d first %v; want update 1, attempt 2, first tried %v",
			c.Job.Update.Sequence, c.Job.Attempt, c.Job.FirstAttemptAt, failed.At)
	}
	if _, err := db.RecordAttempt(ctx, c.Lease, c.Job, endpointAttempt(c.Job, references.OutcomeDelivered, clk.Now()), ""); err != nil {
		t.Fatal(err)
	}
	release(t, db, c.Lease)
	msgs := messagesOf(t, db, ep.ID)
	if len(msgs) != 2 || msgs[0].Status != references.MessageSucceeded || len(msgs[0].Attempts) != 2 ||
		msgs[0].Attempts[0].Outcome != references.OutcomeFailed || msgs[1].Status != references.MessagePending {
		t.Fatalf("messages after the retry: %+v", msgs)
	}
	err = db.bolt.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMessages).Get(messageKey(ep.ID, ref.ID, 1)); isJSON(v) {
			t.Errorf("the retried message is still JSON: %s", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkStreams(t, db)
}

func TestCodec_CorruptMessagesAndStreamStatesAreErrors(t *testing.T) {
	full := &references.Message{}
	fill(rand.New(rand.NewPCG(13, 14)), reflect.ValueOf(full).Elem())
	first := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st := &streamState{DueAt: first, Attempts: 3, FirstAttemptAt: &first, BatchID: "bat_1", BatchEnd: 4}
	values := []struct {
		name   string
		data   []byte
		decode func([]byte) error
	}{
		{"message", encodeMessage(full), func(d []byte) error { var m references.Message; return decodeMessage(d, &m) }},
		{"stream state", encodeStreamState(st), func(d []byte) error { var s streamState; return decodeStreamState(d, &s) }},
	}
	for _, v := range values {
		for n := 1; n < len(v.data); n++ {
			if err := v.decode(v.data[:n]); !errors.Is(err, errCorrupt) {
				t.Fatalf("%s cut to %d of %d bytes: got %v, want errCorrupt", v.name, n, len(v.data), err)
			}
		}
		if err := v.decode(append(bytes.Clone(v.data), 0)); !errors.Is(err, errCorrupt) {
			t.Fatalf("%s with a byte too many: got %v", v.name, err)
		}
	}
	// A count of attempts far beyond what the value holds is refused before any
	// allocation.
	huge := encodeMessage(&references.Message{})
	huge = append(huge[:len(huge)-1], 0xff, 0xff, 0xff, 0xff, 0x0f)
	var m references.Message
	if err := decodeMessage(huge, &m); !errors.Is(err, errCorrupt) {
		t.Fatalf("a huge attempt count: got %v", err)
	}
}

// FuzzDecodeMessage is FuzzDecodeUpdate for endpoint messages.
func FuzzDecodeMessage(f *testing.F) {
	rng := rand.New(rand.NewPCG(15, 16))
	for range 4 {
		m := &references.Message{}
		fill(rng, reflect.ValueOf(m).Elem())
		f.Add(encodeMessage(m))
	}
	f.Add(encodeMessage(&references.Message{}))
	f.Add(encodeMessage(sampleMessage()))
	js, err := json.Marshal(newMessageRecord(sampleMessage()))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(js)
	f.Fuzz(func(t *testing.T, data []byte) {
		var m references.Message
		if err := decodeMessage(data, &m); err != nil {
			return
		}
		var again references.Message
		if err := decodeMessage(encodeMessage(&m), &again); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if a, b := asJSON(t, &m), asJSON(t, &again); !bytes.Equal(a, b) {
			t.Fatalf("re-encoding changed the value:\n%s\n%s", a, b)
		}
	})
}
