package store

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// writeV2 rewrites the v2 fixture and its golden file. It is meant to run once, with
// the code of the version the fixture stands for (main at 3e8b900, schema 2):
//
//	go test ./store -run TestWriteV2Fixture -write-v2-fixture
var writeV2 = flag.Bool("write-v2-fixture", false, "rewrite testdata/store/v2.db and v2.golden.json")

var (
	v2Fixture = filepath.Join("..", "testdata", "store", "v2.db")
	v2Golden  = filepath.Join("..", "testdata", "store", "v2.golden.json")
)

// v2 is the fixture of schema 2, read at 08:00 the day after it was written.
var v2 = storeFixture{
	now:             time.Date(2026, 4, 2, 8, 0, 0, 0, time.UTC),
	accounts:        []string{"acct_gamma", "acct_delta"},
	idempotencyKeys: map[string][]string{"acct_gamma": {"order-5500"}},
}

// TestWriteV2Fixture writes testdata/store/v2.db with fixed times and ids through the
// store's API of schema 2, then reads a copy of it back into v2.golden.json.
func TestWriteV2Fixture(t *testing.T) {
	if !*writeV2 {
		t.Skip("run with -write-v2-fixture to rewrite the v2 fixture")
	}
	ctx := context.Background()
	at := func(day, hour, min int) time.Time { return time.Date(2026, 4, day, hour, min, 0, 0, time.UTC) }
	ptr := func(t time.Time) *time.Time { return &t }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(v2Fixture); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	clk := clock.NewFake(at(1, 9, 0))
	db, err := Open(v2Fixture, Options{Clock: clk})
	must(err)

	// Accounts: gamma rotated its secret at 09:30, the first one signs until the 3rd.
	_, err = db.EnsureAccount(ctx, "acct_gamma", "whsec_dHJhY2tob29rLXYyLWZpeHR1cmUtZ2FtbWEtb25lIQ==", clk.Now())
	must(err)
	_, err = db.EnsureAccount(ctx, "acct_delta", "whsec_dHJhY2tob29rLXYyLWZpeHR1cmUtZGVsdGEtb25lIQ==", clk.Now())
	must(err)
	clk.Set(at(1, 9, 30))
	_, err = db.RotateWebhookSecret(ctx, "acct_gamma", "whsec_dHJhY2tob29rLXYyLWZpeHR1cmUtZ2FtbWEtdHdvIQ==", at(3, 9, 30))
	must(err)

	// API keys (hashes of keys that are written here and nowhere else).
	for _, k := range []struct {
		id, account, key string
		admin            bool
	}{
		{"key_v2gammaadmin", "acct_gamma", "thk_v2fixtureGAMMAADMINkeyDoNotUse0000000000000000", true},
		{"key_v2delta", "acct_delta", "thk_v2fixtureDELTAkeyDoNotUse00000000000000000000000", false},
	} {
		must(db.CreateAPIKey(ctx, references.APIKey{
			ID: k.id, AccountID: k.account, Prefix: k.key[:12], Hash: references.HashAPIKey(k.key), Admin: k.admin, CreatedAt: clk.Now(),
		}))
	}

	// References, created at 10:00; metadata maps have one key at most (see v1).
	created := at(1, 10, 0)
	clk.Set(created)
	newRef := func(id, account string, set func(*references.Reference)) references.Reference {
		next := created
		r := references.Reference{
			ID: id, AccountID: account, Status: references.StatusActive, CreatedAt: created, UpdatedAt: created,
			NextPollAt: &next, PollInterval: references.Duration(15 * time.Minute),
		}
		set(&r)
		return r
	}
	retry := newRef("ref_v2retry", "acct_gamma", func(r *references.Reference) {
		r.ContainerID, r.CarrierCode, r.CallbackURL = "TRHU4716245", "MSCU", "https://hooks.gamma.example/trackhook"
		r.Metadata = map[string]string{"order": "PO-5500"}
	})
	_, _, err = db.CreateReference(ctx, retry, references.CreateOptions{Idempotency: &references.IdempotencyKey{
		Key: "order-5500", RequestHash: "6d1c1f0a3b2e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c", ExpiresAt: created.Add(references.IdempotencyTTL),
	}})
	must(err)
	delivered := newRef("ref_v2delivered", "acct_gamma", func(r *references.Reference) {
		r.BillOfLading, r.CarrierCode, r.CallbackURL = "MAEU987654321", "MAEU", "https://hooks.gamma.example/bol"
		r.EventTypes = []string{"shipment.updated"}
		r.PollInterval = references.Duration(time.Hour)
	})
	unsub := newRef("ref_v2unsub", "acct_gamma", func(r *references.Reference) {
		r.BookingNumber, r.CarrierCode, r.CallbackURL = "BK20260401", "HLCU", "https://hooks.gamma.example/booking"
		r.Metadata = map[string]string{"customer": "ACME"}
	})
	fresh := newRef("ref_v2fresh", "acct_delta", func(r *references.Reference) {
		r.ContainerID, r.CarrierCode, r.CallbackURL = "CSQU3054383", "MAEU", "https://hooks.delta.example/in"
		r.Metadata = map[string]string{"po": "9001"}
	})
	pull := newRef("ref_v2pull", "acct_delta", func(r *references.Reference) {
		r.BookingNumber, r.CarrierCode = "BK20260402", "HLCU"
	})
	for _, r := range []references.Reference{delivered, unsub, fresh, pull} {
		_, _, err = db.CreateReference(ctx, r, references.CreateOptions{})
		must(err)
	}

	// Snapshots of a real voyage (testdata/diff) and hand-written changes.
	snapshot := func(name string) *references.Shipment {
		t.Helper()
		data, err := os.ReadFile(filepath.Join("..", "testdata", "diff", "full_voyage", name))
		must(err)
		var rec shipmentRecord
		must(json.Unmarshal(data, &rec))
		return rec.shipment()
	}
	early, later := snapshot("02.json"), snapshot("03.json")
	changes := []references.Change{
		{Type: references.ChangeETAChanged, Description: "ETA moved by 6h", Old: "2026-04-20T06:00:00Z", New: "2026-04-20T12:00:00Z"},
		{Type: references.ChangeStatusChanged, Description: "Status changed from booked to at_origin", Old: "booked", New: "at_origin"},
	}
	poll := func(ref references.Reference, polled time.Time, res references.PollResult) {
		t.Helper()
		clk.Set(polled)
		claim, err := db.ClaimPoll(ctx, "v2fixture", ref.ID, time.Minute)
		must(err)
		res.PolledAt = polled
		if res.NextPollAt.IsZero() {
			res.NextPollAt = polled.Add(time.Duration(ref.PollInterval))
		}
		_, err = db.RecordPoll(ctx, claim.Lease, res)
		must(err)
	}
	shipmentPoll := func(updateID string, s *references.Shipment, polled time.Time) references.PollResult {
		return references.PollResult{Shipment: s, Updates: []references.Update{{
			ID: updateID, Type: references.UpdateShipment, CreatedAt: polled, Changes: changes, Shipment: s,
		}}}
	}
	attempt := func(refID string, when time.Time, a references.DeliveryAttempt) {
		t.Helper()
		clk.Set(when)
		claim, err := db.ClaimDelivery(ctx, "v2fixture", refID, time.Minute)
		must(err)
		job := claim.Job
		a.ReferenceID, a.UpdateID, a.Sequence, a.Attempt, a.URL, a.At = refID, job.Update.ID, job.Update.Sequence, job.Attempt, job.Reference.CallbackURL, when
		_, err = db.RecordAttempt(ctx, claim.Lease, job, a, "")
		must(err)
		must(db.ReleaseLease(ctx, claim.Lease))
	}

	// ref_v2retry: update 1 delivered; update 2 failed twice and waits for its retry
	// at 13:05; update 3 (tracking.failed) waits behind it; a redelivery of update 1
	// is queued.
	poll(retry, at(1, 10, 5), shipmentPoll("upd_v2retry1", early, at(1, 10, 5)))
	attempt(retry.ID, at(1, 10, 6), references.DeliveryAttempt{StatusCode: 200, LatencyMS: 91, ResponseBody: "ok", Outcome: references.OutcomeDelivered})
	poll(retry, at(1, 12, 30), shipmentPoll("upd_v2retry2", later, at(1, 12, 30)))
	attempt(retry.ID, at(1, 12, 31), references.DeliveryAttempt{StatusCode: 500, LatencyMS: 1404, ResponseBody: "internal error", Error: "receiver answered 500", Outcome: references.OutcomeFailed, NextRetryAt: ptr(at(1, 12, 35))})
	attempt(retry.ID, at(1, 12, 35), references.DeliveryAttempt{Error: "dial tcp 203.0.113.9:443: connect: connection refused", LatencyMS: 2, Outcome: references.OutcomeFailed, NextRetryAt: ptr(at(1, 13, 5))})
	poll(retry, at(1, 13, 0), references.PollResult{
		NextPollAt: at(1, 13, 20), Error: "source answered 502", ConsecutiveFailures: 2,
		Updates: []references.Update{{ID: "upd_v2retry3", Type: references.UpdateTrackingFailed, CreatedAt: at(1, 13, 0), Changes: []references.Change{}, Error: "source answered 502"}},
	})
	clk.Set(at(1, 14, 0))
	must(db.RequestRedelivery(ctx, "acct_gamma", retry.ID, "upd_v2retry1", at(1, 14, 0)))

	// ref_v2delivered: two updates, both delivered: its stream is drained.
	poll(delivered, at(1, 10, 10), shipmentPoll("upd_v2delivered1", early, at(1, 10, 10)))
	attempt(delivered.ID, at(1, 10, 11), references.DeliveryAttempt{StatusCode: 204, LatencyMS: 38, Outcome: references.OutcomeDelivered})
	poll(delivered, at(1, 11, 10), shipmentPoll("upd_v2delivered2", later, at(1, 11, 10)))
	attempt(delivered.ID, at(1, 11, 11), references.DeliveryAttempt{StatusCode: 200, LatencyMS: 45, ResponseBody: `{"received":true}`, Outcome: references.OutcomeDelivered})

	// ref_v2unsub: one update delivered, then a poll at 15:00 found tracking complete
	// and unsubscribed it: the final reference.unsubscribed update waits for its first
	// attempt.
	poll(unsub, at(1, 10, 15), shipmentPoll("upd_v2unsub1", early, at(1, 10, 15)))
	attempt(unsub.ID, at(1, 10, 16), references.DeliveryAttempt{StatusCode: 202, LatencyMS: 60, Outcome: references.OutcomeDelivered})
	poll(unsub, at(1, 15, 0), references.PollResult{
		Unsubscribe: references.ReasonTrackingComplete,
		Updates: []references.Update{{
			ID: "upd_v2unsub2", Type: references.UpdateUnsubscribed, CreatedAt: at(1, 15, 0), Changes: []references.Change{},
			UnsubscribeReason: references.ReasonTrackingComplete,
		}},
	})

	// ref_v2fresh: one update at 16:00, never tried.
	poll(fresh, at(1, 16, 0), shipmentPoll("upd_v2fresh1", early, at(1, 16, 0)))

	// ref_v2pull: a pull feed of one update.
	poll(pull, at(1, 10, 20), shipmentPoll("upd_v2pull1", early, at(1, 10, 20)))

	must(db.Close())

	// The golden file is read from a copy, so that reading (which claims and releases
	// the pending deliveries) leaves the fixture as it was written.
	golden := encodeV1(t, readFixture(t, openCopy(t, v2Fixture, v2.now), v2))
	must(os.WriteFile(v2Golden, golden, 0o644))
	info, err := os.Stat(v2Fixture)
	must(err)
	t.Logf("wrote %s (%d bytes) and %s (%d bytes)", v2Fixture, info.Size(), v2Golden, len(golden))
}
