package storetest

import (
	"errors"

	"github.com/trackhook/trackhook/references"
)

// claimDeliveries claims up to limit due deliveries for owner.
func (f *fixture) claimDeliveries(owner string, limit int) []references.DeliveryClaim {
	f.t.Helper()
	claims, err := f.b.ClaimDueDeliveries(f.ctx, owner, limit, leaseFor)
	if err != nil {
		f.t.Fatalf("ClaimDueDeliveries: %v", err)
	}
	return claims
}

// claimDelivery claims the due delivery whose lease key is key for owner, giving back
// the others the claim returned, and fails the test when it was not among them.
func (f *fixture) claimDelivery(owner, key string) references.DeliveryClaim {
	f.t.Helper()
	var found *references.DeliveryClaim
	var keys []string
	claims := f.claimDeliveries(owner, 1000)
	for i := range claims {
		keys = append(keys, claims[i].Lease.Key)
		if claims[i].Lease.Key == key {
			found = &claims[i]
			continue
		}
		if err := f.b.ReleaseLease(f.ctx, claims[i].Lease); err != nil {
			f.t.Fatalf("ReleaseLease: %v", err)
		}
	}
	if found == nil {
		f.t.Fatalf("%s was not claimed; claimed: %q", key, keys)
	}
	return *found
}

// claimStream claims the callback stream of refID (see claimDelivery).
func (f *fixture) claimStream(owner, refID string) references.DeliveryClaim {
	f.t.Helper()
	return f.claimDelivery(owner, references.DeliveryLeaseKey(references.DestinationCallback, refID))
}

// noDeliveryDue fails the test when any delivery can be claimed now.
func (f *fixture) noDeliveryDue(why string) {
	f.t.Helper()
	claims := f.claimDeliveries("checker", 1000)
	for _, c := range claims {
		f.t.Errorf("%s: claimed %s (update %d, redelivery %t)", why, c.Lease.Key, c.Job.Update.Sequence, c.Job.Redelivery)
		_ = f.b.ReleaseLease(f.ctx, c.Lease)
	}
}

// attempt returns the record of an attempt of job made now with outcome.
func (f *fixture) attempt(job references.DeliveryJob, outcome references.AttemptOutcome) references.DeliveryAttempt {
	a := references.DeliveryAttempt{
		ReferenceID: job.Reference.ID,
		UpdateID:    job.Update.ID,
		Sequence:    job.Update.Sequence,
		Attempt:     job.Attempt,
		URL:         job.Reference.CallbackURL,
		At:          f.now(),
		LatencyMS:   12,
		Outcome:     outcome,
		Redelivery:  job.Redelivery,
	}
	switch outcome {
	case references.OutcomeDelivered:
		a.StatusCode = 204
	case references.OutcomeGone:
		a.StatusCode = 410
	default:
		a.StatusCode = 503
	}
	return a
}

// record records an attempt of the claim's current job, failing the test on error.
func (f *fixture) record(lease references.Lease, job references.DeliveryJob, a references.DeliveryAttempt) references.Reference {
	f.t.Helper()
	ref, err := f.b.RecordAttempt(f.ctx, lease, job, a, "")
	if err != nil {
		f.t.Fatalf("RecordAttempt(update %d, %s): %v", job.Update.Sequence, a.Outcome, err)
	}
	return ref
}

// next returns the next job of a leased stream, failing the test on error.
func (f *fixture) next(lease references.Lease) references.DeliveryJob {
	f.t.Helper()
	job, err := f.b.NextDelivery(f.ctx, lease)
	if err != nil {
		f.t.Fatalf("NextDelivery: %v", err)
	}
	return job
}

// drained fails the test unless the leased stream has nothing left to deliver.
func (f *fixture) drained(lease references.Lease) {
	f.t.Helper()
	job, err := f.b.NextDelivery(f.ctx, lease)
	if !errors.Is(err, references.ErrNothingToDeliver) {
		f.t.Fatalf("NextDelivery of a drained stream = update %d, %v; want ErrNothingToDeliver", job.Update.Sequence, err)
	}
}

// deliverAll delivers every pending update of refID's callback stream and gives the
// lease back, as the notifier does.
func (f *fixture) deliverAll(refID string) {
	f.t.Helper()
	c := f.claimStream("deliverer", refID)
	job := c.Job
	for {
		f.record(c.Lease, job, f.attempt(job, references.OutcomeDelivered))
		next, err := f.b.NextDelivery(f.ctx, c.Lease)
		if errors.Is(err, references.ErrNothingToDeliver) {
			if err := f.b.ReleaseLease(f.ctx, c.Lease); err != nil {
				f.t.Fatalf("ReleaseLease: %v", err)
			}
			return
		}
		if err != nil {
			f.t.Fatalf("NextDelivery: %v", err)
		}
		job = next
	}
}

// deliveries returns the whole delivery log of a reference, newest first.
func (f *fixture) deliveries(accountID, refID string) []references.DeliveryAttempt {
	f.t.Helper()
	page, err := f.b.ListDeliveries(f.ctx, accountID, refID, references.DeliveryQuery{Limit: references.MaxPageSize})
	if err != nil {
		f.t.Fatalf("ListDeliveries(%s): %v", refID, err)
	}
	return page.Deliveries
}

// errNothing reports whether err says a stream is drained.
func errNothing(err error) bool { return errors.Is(err, references.ErrNothingToDeliver) }
