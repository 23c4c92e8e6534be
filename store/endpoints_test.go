package store

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// mustCreateEndpoint stores an enabled endpoint of account "a" with the given id.
func mustCreateEndpoint(t *testing.T, db *DB, id string) references.Endpoint {
	t.Helper()
	now := db.clock.Now()
	ep, err := db.CreateEndpoint(context.Background(), references.Endpoint{
		ID: id, AccountID: "a", URL: "https://receiver.example/ep", Enabled: true,
		Format: references.FormatStandard, Headers: references.HeadersStandard,
		Secrets:   []references.WebhookSecret{{Secret: "whsec_" + id, CreatedAt: now}},
		CreatedAt: now, UpdatedAt: now,
	}, 0)
	if err != nil {
		t.Fatalf("create endpoint %s: %v", id, err)
	}
	return ep
}

// keysUnder counts the keys of bucket that begin with prefix.
func keysUnder(t *testing.T, db *DB, bucket []byte, prefix string) int {
	t.Helper()
	n := 0
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, _ := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, _ = c.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEndpointRecords_ConvertEveryField(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 12))
	for range 50 {
		var ep references.Endpoint
		var m references.Message
		fill(rng, reflect.ValueOf(&ep).Elem())
		fill(rng, reflect.ValueOf(&m).Elem())
		if got := newEndpointRecord(&ep).endpoint(); !reflect.DeepEqual(got, ep) {
			t.Fatalf("endpoint after its record:\n got %+v\nwant %+v", got, ep)
		}
		if got := newMessageRecord(&m).message(); !reflect.DeepEqual(got, m) {
			t.Fatalf("message after its record:\n got %+v\nwant %+v", got, m)
		}
	}
}

// An endpoint whose id begins with another's ("ep_x", "ep_x2") must not lose anything
// when the other is deleted: key prefixes end with the separator.
func TestDeleteEndpoint_LeavesNoKeyOfItsAndNoneOfAnotherIsLost(t *testing.T) {
	db, clk := mustOpen(t)
	for _, id := range []string{"ep_x", "ep_x2"} {
		mustCreateEndpoint(t, db, id)
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			for i := range 3 {
				m := references.Message{
					EndpointID: id, AccountID: "a", ID: references.NewID("upd_"), ReferenceID: "ref_1",
					Sequence: uint64(i + 1), CreatedAt: clk.Now(), Status: references.MessagePending,
				}
				if err := putMessage(tx, &m, true); err != nil {
					return err
				}
				if err := queueResend(tx, id, m.ID, clk.Now()); err != nil {
					return err
				}
				if err := tx.Bucket(bucketEndpointPending).Put(messageKey(id, "ref_1", m.Sequence), nil); err != nil {
					return err
				}
			}
			return tx.Bucket(bucketEndpointStreams).Put(join(str(id), []byte("ref_1")), []byte("{}"))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteEndpoint(context.Background(), "a", "ep_x"); err != nil {
		t.Fatal(err)
	}
	perBucket := []struct {
		bucket []byte
		each   int // keys per endpoint
	}{
		{bucketMessages, 3}, {bucketMessagesByTime, 3}, {bucketMessageIDs, 3},
		{bucketEndpointResend, 3}, {bucketEndpointPending, 3}, {bucketEndpointStreams, 1},
	}
	for _, b := range perBucket {
		if n := keysUnder(t, db, b.bucket, "ep_x\x00"); n != 0 {
			t.Errorf("%s keeps %d keys of the deleted endpoint", b.bucket, n)
		}
		if n := keysUnder(t, db, b.bucket, "ep_x2\x00"); n != b.each {
			t.Errorf("%s has %d keys of the other endpoint, want %d", b.bucket, n, b.each)
		}
	}
	if n := keysUnder(t, db, bucketEndpointsByAcct, "a\x00"); n != 1 {
		t.Errorf("the account's index has %d endpoints, want 1", n)
	}
}

func TestCreateEndpoint_RefusesAnIDInUse(t *testing.T) {
	db, _ := mustOpen(t)
	ep := mustCreateEndpoint(t, db, "ep_1")
	ep.URL = "https://elsewhere.example/"
	_, err := db.CreateEndpoint(context.Background(), ep, 0)
	if references.ErrorCode(err) != references.CodeConflict {
		t.Fatalf("a create with an id in use: %v, want a conflict", err)
	}
	if got, _ := db.GetEndpoint(context.Background(), "a", "ep_1"); got.URL == ep.URL {
		t.Error("the refused create replaced the endpoint")
	}
}

func TestPatchEndpoint_MayNotMoveTheEndpoint(t *testing.T) {
	db, clk := mustOpen(t)
	mustCreateEndpoint(t, db, "ep_1")
	changes := map[string]func(*references.Endpoint){
		"id":         func(e *references.Endpoint) { e.ID = "ep_2" },
		"account":    func(e *references.Endpoint) { e.AccountID = "b" },
		"created at": func(e *references.Endpoint) { e.CreatedAt = clk.Now().Add(time.Hour) },
	}
	for name, change := range changes {
		_, err := db.PatchEndpoint(context.Background(), "a", "ep_1", func(e *references.Endpoint) error {
			change(e)
			e.Description = "moved"
			return nil
		})
		if err == nil {
			t.Errorf("a change of the %s was accepted", name)
		}
	}
	got, err := db.GetEndpoint(context.Background(), "a", "ep_1")
	if err != nil || got.Description != "" {
		t.Errorf("after refused changes: %+v, %v", got, err)
	}
	if _, err := db.GetEndpoint(context.Background(), "a", "ep_2"); !errors.Is(err, references.ErrNotFound) {
		t.Errorf("an endpoint ep_2 appeared: %v", err)
	}
}
