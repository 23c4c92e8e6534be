package store

import (
	"context"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

func TestNextDelivery_OnlyReadsUnlessTheOutboxMustChange(t *testing.T) {
	ctx := context.Background()
	db, clock := mustOpen(t)
	now := clock.Now()
	ref := withCallback(newRef("a", "MSCU1234566", now), "https://example.com/hook")
	ref.EventTypes = []string{string(references.UpdateShipment)}
	ref = mustCreate(t, db, ref)
	res := quietPoll(now, now.Add(time.Hour))
	res.Updates = []references.Update{
		{Type: references.UpdateShipment, CreatedAt: now},
		{Type: references.UpdateTrackingFailed, CreatedAt: now}, // filtered out
		{Type: references.UpdateShipment, CreatedAt: now},
	}
	if _, err := recordPoll(t, db, ref.ID, res); err != nil {
		t.Fatal(err)
	}

	before := lastTx(t, db)
	claims := claimDue(t, db, 10)
	if len(claims) != 1 || claims[0].Job.Update.Sequence != 1 {
		t.Fatalf("first delivery claimed: %+v", claims)
	}
	c := claims[0]
	job, err := db.NextDelivery(ctx, c.Lease)
	if err != nil || job.Update.Sequence != 1 {
		t.Fatalf("first delivery: %+v, %v", job.Update, err)
	}
	if lastTx(t, db) != before {
		t.Fatal("claiming or NextDelivery of the next update in line wrote to the store")
	}
	if _, err := db.RecordAttempt(ctx, c.Lease, job, attempt(job, references.OutcomeDelivered, now), ""); err != nil {
		t.Fatal(err)
	}
	// The filtered update is passed over, durably, and the one after it comes next.
	job, err = db.NextDelivery(ctx, c.Lease)
	if err != nil || job.Update.Sequence != 3 {
		t.Fatalf("after a filtered update: %+v, %v", job.Update, err)
	}
	if got, _ := db.Reference(ctx, ref.ID); got.DeliveredSequence != 2 {
		t.Fatalf("delivered sequence %d after passing over update 2", got.DeliveredSequence)
	}
}
