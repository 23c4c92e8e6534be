package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/poller/demo"
	"github.com/trackhook/trackhook/references"
)

// writeV1 rewrites the v1 fixture and its golden file. It is meant to run once, with
// the code of the version the fixture stands for:
//
//	go test ./store -run TestWriteV1Fixture -write-v1-fixture
var writeV1 = flag.Bool("write-v1-fixture", false, "rewrite testdata/store/v1.db, v1-json.db and v1.golden.json")

// TestWriteV1Fixture writes testdata/store/v1.db with fixed times and ids, a copy of it
// with JSON values (v1-json.db), then reads v1.db back into v1.golden.json.
func TestWriteV1Fixture(t *testing.T) {
	if !*writeV1 {
		t.Skip("run with -write-v1-fixture to rewrite the v1 fixture")
	}
	ctx := context.Background()
	at := func(day, hour, min int) time.Time { return time.Date(2026, 3, day, hour, min, 0, 0, time.UTC) }
	now := at(1, 9, 0)
	if err := os.Remove(v1Fixture); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	db, err := Open(v1Fixture, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// Accounts: alpha rotated its secret, the old one is in its grace period.
	_, err = db.EnsureAccount(ctx, "acct_alpha", "whsec_dHJhY2tob29rLXYxLWZpeHR1cmUtYWxwaGEtb25lIQ==", now)
	must(err)
	_, err = db.EnsureAccount(ctx, "acct_beta", "whsec_dHJhY2tob29rLXYxLWZpeHR1cmUtYmV0YS1vbmUhIQ==", now)
	must(err)
	now = at(1, 9, 30)
	_, err = db.RotateWebhookSecret(ctx, "acct_alpha", "whsec_dHJhY2tob29rLXYxLWZpeHR1cmUtYWxwaGEtdHdvIQ==", at(3, 9, 30))
	must(err)

	// API keys: an admin key, a revoked key and a plain key.
	for _, k := range []struct {
		id, account, key string
		admin            bool
	}{
		{"key_v1alphaadmin", "acct_alpha", "thk_v1fixtureALPHAADMINkeyDoNotUse0000000000000000", true},
		{"key_v1alpharevoked", "acct_alpha", "thk_v1fixtureALPHAREVOKEDkeyDoNotUse00000000000000", false},
		{"key_v1beta", "acct_beta", "thk_v1fixtureBETAkeyDoNotUse000000000000000000000000", false},
	} {
		must(db.CreateAPIKey(ctx, references.APIKey{
			ID: k.id, AccountID: k.account, Prefix: k.key[:12], Hash: references.HashAPIKey(k.key), Admin: k.admin, CreatedAt: now,
		}))
	}
	_, err = db.RevokeAPIKey(ctx, "key_v1alpharevoked", at(1, 9, 45))
	must(err)

	// References of the three kinds; the container one was created with an
	// Idempotency-Key, hashed as the service hashes the request.
	created := at(1, 10, 0)
	newRef := func(id, account string, set func(*references.Reference)) references.Reference {
		next := created
		r := references.Reference{
			ID: id, AccountID: account, Status: references.StatusActive, CreatedAt: created, UpdatedAt: created,
			NextPollAt: &next, PollInterval: references.Duration(15 * time.Minute),
		}
		set(&r)
		return r
	}
	req := references.CreateRequest{
		ContainerID: "mscu 123456-6", CarrierCode: "mscu", CallbackURL: "https://hooks.alpha.example/trackhook",
		Metadata: map[string]string{"order": "PO-4471"},
	}
	body, err := json.Marshal(req)
	must(err)
	sum := sha256.Sum256(body)
	container := newRef("ref_v1container", "acct_alpha", func(r *references.Reference) {
		r.ContainerID, r.CarrierCode, r.CallbackURL, r.Metadata = "MSCU1234566", "MSCU", req.CallbackURL, req.Metadata
	})
	_, _, err = db.CreateReference(ctx, container, &references.IdempotencyKey{
		Key: "order-4471", RequestHash: hex.EncodeToString(sum[:]), ExpiresAt: created.Add(references.IdempotencyTTL),
	})
	must(err)
	bol := newRef("ref_v1bol", "acct_alpha", func(r *references.Reference) {
		r.BillOfLading, r.CarrierCode, r.CallbackURL = "MAEU123456789", "MAEU", "https://hooks.alpha.example/bol"
		r.EventTypes = []string{"shipment.updated", "reference.unsubscribed"}
		r.PollInterval = references.Duration(time.Hour)
	})
	booking := newRef("ref_v1booking", "acct_alpha", func(r *references.Reference) {
		r.BookingNumber, r.CarrierCode = "BK20260301", "HLCU"
		r.Metadata = map[string]string{"customer": "ACME"}
		r.PollInterval = references.Duration(30 * time.Minute)
	})
	beta := newRef("ref_v1beta", "acct_beta", func(r *references.Reference) {
		r.ContainerID, r.CarrierCode = "CSQU3054383", "MAEU"
		r.Metadata = map[string]string{"po": "4711"}
	})
	for _, r := range []references.Reference{bol, booking, beta} {
		_, _, err = db.CreateReference(ctx, r, nil)
		must(err)
	}

	// Polls. The demo carrier plays 12 simulated days per real hour.
	src := func(polled time.Time) *demo.Source {
		return demo.New(demo.Options{Speed: 288, Now: func() time.Time { return polled }})
	}
	prev := map[string]*references.Shipment{}
	poll := func(ref references.Reference, polled time.Time, updateID string) {
		t.Helper()
		fetched, err := src(polled).Fetch(ctx, ref)
		must(err)
		cur := poller.Derive(fetched)
		changes := poller.Diff(prev[ref.ID], cur)
		prev[ref.ID] = cur
		_, err = db.RecordPoll(ctx, ref.ID, references.PollResult{
			PolledAt: polled, NextPollAt: polled.Add(time.Duration(ref.PollInterval)), Shipment: cur,
			Updates: []references.Update{{ID: updateID, Type: references.UpdateShipment, CreatedAt: polled, Changes: changes, Shipment: cur}},
		})
		must(err)
	}
	attempt := func(refID string, when time.Time, a references.DeliveryAttempt) {
		t.Helper()
		job, err := db.NextDelivery(ctx, refID, when)
		must(err)
		a.ReferenceID, a.UpdateID, a.Sequence, a.Attempt, a.URL, a.At = refID, job.Update.ID, job.Update.Sequence, job.Attempt, job.Reference.CallbackURL, when
		_, err = db.RecordAttempt(ctx, job, a, "")
		must(err)
	}
	ptr := func(t time.Time) *time.Time { return &t }

	// The container: two shipment updates, then a tracking.failed one; delivered,
	// failed and given up, failed and waiting for its retry; one redelivery asked for.
	poll(container, at(1, 10, 5), "upd_v1container1")
	attempt(container.ID, at(1, 10, 6), references.DeliveryAttempt{StatusCode: 200, LatencyMS: 84, ResponseBody: "ok", Outcome: references.OutcomeDelivered})
	poll(container, at(1, 12, 30), "upd_v1container2")
	attempt(container.ID, at(1, 12, 31), references.DeliveryAttempt{StatusCode: 500, LatencyMS: 1203, ResponseBody: "internal error", Error: "receiver answered 500", Outcome: references.OutcomeFailed, NextRetryAt: ptr(at(1, 12, 36))})
	attempt(container.ID, at(1, 12, 36), references.DeliveryAttempt{StatusCode: 503, LatencyMS: 15, Error: "receiver answered 503", Outcome: references.OutcomeGaveUp})
	_, err = db.RecordPoll(ctx, container.ID, references.PollResult{
		PolledAt: at(1, 13, 0), NextPollAt: at(1, 13, 20), Error: "source answered 502", ConsecutiveFailures: 3,
		Updates: []references.Update{{ID: "upd_v1container3", Type: references.UpdateTrackingFailed, CreatedAt: at(1, 13, 0), Changes: []references.Change{}, Error: "source answered 502"}},
	})
	must(err)
	attempt(container.ID, at(1, 13, 1), references.DeliveryAttempt{Error: "dial tcp 203.0.113.7:443: connect: connection refused", LatencyMS: 3, Outcome: references.OutcomeFailed, NextRetryAt: ptr(at(1, 13, 6))})
	must(db.RequestRedelivery(ctx, "acct_alpha", container.ID, "upd_v1container1", at(1, 14, 0)))

	// The bill of lading: one shipment update, then the source stops knowing it and
	// tracking ends; both delivered.
	poll(bol, at(1, 10, 10), "upd_v1bol1")
	attempt(bol.ID, at(1, 10, 11), references.DeliveryAttempt{StatusCode: 204, LatencyMS: 40, Outcome: references.OutcomeDelivered})
	_, err = db.RecordPoll(ctx, bol.ID, references.PollResult{
		PolledAt: at(1, 15, 10), NextPollAt: at(1, 16, 10), Error: "shipment not found at the source", ConsecutiveFailures: 5,
		NotFoundSince: ptr(at(1, 11, 10)), Unsubscribe: references.ReasonNotFound,
		Updates: []references.Update{{ID: "upd_v1bol2", Type: references.UpdateUnsubscribed, CreatedAt: at(1, 15, 10), Changes: []references.Change{}, UnsubscribeReason: references.ReasonNotFound}},
	})
	must(err)
	attempt(bol.ID, at(1, 15, 11), references.DeliveryAttempt{StatusCode: 200, LatencyMS: 52, ResponseBody: `{"received":true}`, Outcome: references.OutcomeDelivered})

	// The booking: a failed poll, then the user unsubscribed it.
	_, err = db.RecordPoll(ctx, booking.ID, references.PollResult{
		PolledAt: at(1, 10, 15), NextPollAt: at(1, 10, 45), Error: "source timed out", ConsecutiveFailures: 1,
	})
	must(err)
	_, err = db.UnsubscribeReference(ctx, "acct_alpha", booking.ID, references.ReasonUser, at(1, 11, 0))
	must(err)

	// Beta's container: a pull feed of two shipment updates.
	poll(beta, at(1, 10, 20), "upd_v1beta1")
	poll(beta, at(1, 11, 20), "upd_v1beta2")

	must(db.Close())

	must(writeV1JSON(v1Fixture, v1JSONFixture))

	db, err = Open(v1Fixture, Options{Now: func() time.Time { return v1Now }})
	must(err)
	golden := encodeV1(t, readV1(t, db))
	must(db.Close())
	must(os.WriteFile(v1Golden, golden, 0o644))
	for _, f := range []string{v1Fixture, v1JSONFixture} {
		info, err := os.Stat(f)
		must(err)
		t.Logf("wrote %s (%d bytes)", f, info.Size())
	}
	t.Logf("wrote %s (%d bytes)", v1Golden, len(golden))
}

// writeV1JSON copies the store file src to dst with the values the binary codec
// writes (references, snapshots, updates, delivery states) in their JSON form, as
// trackhook wrote them before the codec: encoding/json of the same types.
func writeV1JSON(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	defer os.Remove(tmp)
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	b, err := bolt.Open(tmp, 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		return err
	}
	err = b.Update(func(tx *bolt.Tx) error {
		convert := map[string]func([]byte) (any, error){
			string(bucketRefs): func(v []byte) (any, error) {
				var r references.Reference
				return &r, decodeReference(v, &r)
			},
			string(bucketShipments): func(v []byte) (any, error) {
				var s references.Shipment
				return &s, decodeShipment(v, &s)
			},
			string(bucketUpdates): func(v []byte) (any, error) {
				var u references.Update
				return &u, decodeUpdate(v, &u)
			},
			string(bucketDelivery): func(v []byte) (any, error) {
				var st deliveryState
				return &st, decodeDeliveryState(v, &st)
			},
		}
		for name, decode := range convert {
			bucket := tx.Bucket([]byte(name))
			values := map[string][]byte{}
			err := bucket.ForEach(func(k, v []byte) error {
				val, err := decode(v)
				if err != nil {
					return err
				}
				js, err := json.Marshal(val)
				values[string(k)] = js
				return err
			})
			if err != nil {
				return err
			}
			for k, v := range values {
				if err := bucket.Put([]byte(k), v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return errors.Join(err, b.Close())
	}
	// Rewriting every value left free pages behind: copy into a compact file.
	if err := os.Remove(dst); err != nil && !os.IsNotExist(err) {
		return errors.Join(err, b.Close())
	}
	out, err := bolt.Open(dst, 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		return errors.Join(err, b.Close())
	}
	err = bolt.Compact(out, b, 1<<20)
	return errors.Join(err, out.Close(), b.Close())
}
