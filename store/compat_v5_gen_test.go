package store

import (
	"context"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

var writeV5 = flag.String("write-v5-fixture", "", "directory to write testdata/store/v5.db and v5.golden.json into")

// TestWriteV5Fixture writes the v5 fixture (see testdata/store/README.md). It is run
// once, with the code of schema 5, and removed afterwards.
func TestWriteV5Fixture(t *testing.T) {
	if *writeV5 == "" {
		t.Skip("-write-v5-fixture not set")
	}
	if SchemaVersion != 5 {
		t.Fatalf("schema %d: the v5 fixture is written by the code of schema 5", SchemaVersion)
	}
	ctx := context.Background()
	start := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	path := *writeV5 + "/v5.db"
	_ = os.Remove(path)
	db, err := Open(path, Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = db.EnsureAccount(ctx, "acct_v5", "whsec_djVmaXh0dXJlc2VjcmV0djVmaXh0dXJlc2VjcmV0", start)
	must(err)
	_, err = db.EnsureAccount(ctx, "acct_v5b", "whsec_djVmaXh0dXJlYmV0YXY1Zml4dHVyZWJldGFfXzAx", start)
	must(err)
	_, err = db.CreateEndpoint(ctx, references.Endpoint{
		ID: v5Endpoint, AccountID: "acct_v5", URL: "https://receiver.example/v5", Enabled: true,
		Format: references.FormatStandard, Headers: references.HeadersStandard, DisableAfter: references.DefaultDisableAfter,
		Secrets:   []references.WebhookSecret{{Secret: "whsec_ZW5kcG9pbnR2NWVuZHBvaW50djVlbmRwb2ludHY1", CreatedAt: start}},
		CreatedAt: start, UpdatedAt: start,
	}, 0)
	must(err)
	mk := func(id, acct string, mod func(*references.Reference)) {
		next := start
		ref := references.Reference{
			ID: id, AccountID: acct, CarrierCode: "DEMO", Status: references.StatusActive,
			CreatedAt: start, UpdatedAt: start, NextPollAt: &next, PollInterval: references.Duration(time.Hour),
		}
		mod(&ref)
		_, _, err := db.CreateReference(ctx, ref, references.CreateOptions{})
		must(err)
	}
	mk("ref_v5container", "acct_v5", func(r *references.Reference) {
		r.ContainerID, r.CallbackURL, r.Metadata = "MSCU1234566", "https://hooks.v5.example/c", map[string]string{"po": "4711"}
	})
	mk("ref_v5bol", "acct_v5", func(r *references.Reference) {
		r.BillOfLading, r.CallbackURL = "MAEU123456789", "https://hooks.v5.example/b"
	})
	mk("ref_v5done", "acct_v5", func(r *references.Reference) { r.ContainerID = "TGHU7654321" })
	mk("ref_v5paused", "acct_v5b", func(r *references.Reference) { r.BookingNumber = "BK55555555" })

	p := v5Poller(t, db)
	poll := func(ids ...string) {
		for _, id := range ids {
			ref, err := db.ReferenceByID(ctx, id)
			must(err)
			if ref.Active() {
				must(p.PollOne(ctx, id))
			}
		}
	}
	// Twelve days in two-day steps: several updates each; the paused one is paused
	// after the third poll.
	for i := range 6 {
		clk.Set(start.Add(time.Duration(i) * 48 * time.Hour))
		poll("ref_v5container", "ref_v5bol", "ref_v5done", "ref_v5paused")
		if i == 2 {
			_, err := db.PauseReference(ctx, "acct_v5b", "ref_v5paused", clk.Now())
			must(err)
		}
	}
	// ref_v5done to the end of its voyage: unsubscribed, tracking complete.
	for i := 3; i < 20; i++ {
		clk.Set(start.Add(time.Duration(i) * 96 * time.Hour))
		poll("ref_v5done")
	}
	last := start.Add(12*24*time.Hour - time.Hour) // 2026-05-13T09:00
	clk.Set(last)
	// Deliveries: everything due is delivered once, except the callback of
	// ref_v5bol, whose first attempt fails; then a redelivery of ref_v5container's
	// first update.
	claims, err := db.ClaimDueDeliveries(ctx, "gen", 100, time.Minute)
	must(err)
	for _, c := range claims {
		outcome := references.OutcomeDelivered
		if c.Job.Reference.ID == "ref_v5bol" && c.Job.Destination == references.DestinationCallback {
			outcome = references.OutcomeFailed
		}
		a := attempt(c.Job, outcome, last)
		a.Destination = c.Job.Destination
		if outcome == references.OutcomeFailed {
			a.StatusCode = 500
			next := last.Add(time.Hour)
			a.NextRetryAt = &next
		} else {
			a.StatusCode = 204
		}
		_, err := db.RecordAttempt(ctx, c.Lease, c.Job, a, "")
		must(err)
		must(db.ReleaseLease(ctx, c.Lease))
	}
	ups, err := db.ListUpdates(ctx, "acct_v5", "ref_v5container", 0, 1)
	must(err)
	must(db.RequestRedelivery(ctx, "acct_v5", "ref_v5container", ups[0].ID, last))
	must(db.Close())

	db = openCopy(t, path, v5.now)
	must(os.WriteFile(*writeV5+"/v5.golden.json", readV5(t, db), 0o644))
}
