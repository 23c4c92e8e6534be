package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runPolls exercises the PollQueue: which polls are due, who gets them, and what
// recording a poll writes.
func runPolls(t *testing.T, open Opener) {
	t.Run("ClaimDuePolls", func(t *testing.T) {
		t.Run("NewReferenceIsDueAtOnceWithALeaseForTheOwner", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			claims, err := f.b.ClaimDuePolls(f.ctx, "owner-1", 10, 30*time.Second)
			if err != nil || len(claims) != 1 {
				t.Fatalf("ClaimDuePolls = %d claims, %v; want the new reference", len(claims), err)
			}
			c := claims[0]
			if c.Reference.ID != ref.ID || c.Reference.AccountID != acctA || c.Reference.ContainerID != ref.ContainerID {
				t.Errorf("claimed reference %+v, want %s", c.Reference, ref.ID)
			}
			if c.Lease.Key != references.PollLeaseKey(ref.ID) || c.Lease.Owner != "owner-1" || !c.Lease.Until.Equal(f.now().Add(30*time.Second)) {
				t.Errorf("lease %+v, want key %s, owner owner-1, until %v", c.Lease, references.PollLeaseKey(ref.ID), f.now().Add(30*time.Second))
			}
		})

		t.Run("MostOverdueFirstUpToLimit", func(t *testing.T) {
			f := setup(t, open)
			var refs []references.Reference
			for range 3 {
				refs = append(refs, f.create(acctA, nil))
			}
			// Due in 3, 1 and 2 minutes.
			for i, m := range []time.Duration{3, 1, 2} {
				f.poll(refs[i].ID, references.PollResult{NextPollAt: f.now().Add(m * time.Minute)})
			}
			f.clk.Advance(5 * time.Minute)
			var got []string
			for range 2 {
				claims, err := f.b.ClaimDuePolls(f.ctx, "owner-1", 2, leaseFor)
				if err != nil {
					t.Fatal(err)
				}
				if len(claims) > 2 {
					t.Fatalf("limit 2 gave %d claims", len(claims))
				}
				for _, c := range claims {
					got = append(got, c.Reference.ID)
				}
			}
			want := []string{refs[1].ID, refs[2].ID, refs[0].ID}
			if !slices.Equal(got, want) {
				t.Fatalf("claim order %q, want most overdue first %q", got, want)
			}
		})

		t.Run("NotDueBeforeNextPollAt", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			f.poll(ref.ID, references.PollResult{NextPollAt: f.now().Add(10 * time.Minute)})
			f.clk.Advance(10*time.Minute - time.Second)
			f.noPollDue(ref.ID, "a second before NextPollAt")
			f.clk.Advance(time.Second)
			f.claimPoll("owner-1", ref.ID)
		})

		t.Run("ClaimedIsNotClaimedAgainBeforeTheLeaseEnds", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			f.claimPoll("owner-1", ref.ID)
			f.noPollDue(ref.ID, "claimed by owner-1, lease held")
			f.clk.Advance(leaseFor - time.Second)
			f.noPollDue(ref.ID, "claimed by owner-1, a second before the lease ends")
		})

		t.Run("NeverOverlapsUnderConcurrentClaimers", func(t *testing.T) {
			f := setup(t, open)
			want := map[string]bool{}
			for range 60 {
				want[references.PollLeaseKey(f.create(acctA, nil).ID)] = true
			}
			got := f.claimConcurrently(8, f.claimPolls(3))
			if len(got) != len(want) {
				t.Errorf("%d of %d due polls were claimed", len(got), len(want))
			}
			for key := range got {
				if !want[key] {
					t.Errorf("unexpected claim %s", key)
				}
			}
		})

		t.Run("NeverOverlapsWhileOutcomesAreRecorded", func(t *testing.T) {
			f := setup(t, open)
			var refs []string
			for range 6 {
				refs = append(refs, f.create(acctA, nil).ID)
			}
			done := f.pollConcurrently(8, 2, 300)
			for _, id := range refs {
				ups := f.updatesOf(acctA, id)
				if len(ups) != done[id] {
					t.Errorf("%s: %d polls recorded, %d updates in the feed", id, done[id], len(ups))
				}
				for i, u := range ups {
					if u.Sequence != uint64(i+1) {
						t.Errorf("%s: update #%d has sequence %d: the feed has a gap or a repeat", id, i+1, u.Sequence)
						break
					}
				}
			}
		})

		t.Run("UnsubscribedIsNeverClaimed", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			if _, err := f.b.UnsubscribeReference(f.ctx, acctA, ref.ID, references.ReasonUser, f.now()); err != nil {
				t.Fatal(err)
			}
			f.noPollDue(ref.ID, "unsubscribed")
		})
	})

	t.Run("ClaimPoll", func(t *testing.T) {
		t.Run("LeasesAReferenceThatIsNotDue", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			f.poll(ref.ID, references.PollResult{NextPollAt: f.now().Add(time.Hour)})
			c, err := f.b.ClaimPoll(f.ctx, "on-demand", ref.ID, leaseFor)
			if err != nil {
				t.Fatalf("ClaimPoll of a reference due in 1h: %v", err)
			}
			if c.Reference.ID != ref.ID || c.Lease.Key != references.PollLeaseKey(ref.ID) || c.Lease.Owner != "on-demand" || !c.Lease.Until.Equal(f.now().Add(leaseFor)) {
				t.Errorf("claim %+v, want %s leased to on-demand until %v", c.Lease, ref.ID, f.now().Add(leaseFor))
			}
			if _, err := f.b.RecordPoll(f.ctx, c.Lease, f.busyPoll()); err != nil {
				t.Fatalf("RecordPoll under the on-demand lease: %v", err)
			}
		})

		t.Run("BusyWhileAnotherLeaseIsLive", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			f.claimPoll("owner-a", ref.ID)
			_, err := f.b.ClaimPoll(f.ctx, "on-demand", ref.ID, leaseFor)
			if !errors.Is(err, references.ErrBusy) {
				t.Fatalf("ClaimPoll of a leased poll: %v, want ErrBusy", err)
			}
			f.clk.Advance(leaseFor + time.Second)
			if _, err := f.b.ClaimPoll(f.ctx, "on-demand", ref.ID, leaseFor); err != nil {
				t.Fatalf("ClaimPoll once the other lease ran out: %v", err)
			}
			f.noPollDue(ref.ID, "claimed on demand")
		})

		t.Run("UnsubscribedIsRefused", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			if _, err := f.b.UnsubscribeReference(f.ctx, acctA, ref.ID, references.ReasonUser, f.now()); err != nil {
				t.Fatal(err)
			}
			if c, err := f.b.ClaimPoll(f.ctx, "on-demand", ref.ID, leaseFor); err == nil {
				t.Fatalf("ClaimPoll of an unsubscribed reference = %+v, want an error", c.Lease)
			}
		})
	})

	t.Run("RecordPoll", func(t *testing.T) {
		t.Run("WritesPollingFieldsSnapshotUpdatesAndSchedule", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			c := f.claimPoll("poller", ref.ID)
			f.clk.Advance(5 * time.Second)
			since := f.now().Add(-time.Hour)
			res := references.PollResult{
				PolledAt: f.now(), NextPollAt: f.now().Add(15 * time.Minute),
				Error: "not found", ConsecutiveFailures: 2, NotFoundSince: &since,
				Shipment: &references.Shipment{Status: references.ShipmentBooked},
				Updates:  []references.Update{f.update(references.UpdateShipment), f.update(references.UpdateTrackingFailed)},
			}
			got, err := f.b.RecordPoll(f.ctx, c.Lease, res)
			if err != nil {
				t.Fatal(err)
			}
			read := f.get(acctA, ref.ID)
			for name, r := range map[string]references.Reference{"returned": got, "read back": read} {
				if r.LastPolledAt == nil || !r.LastPolledAt.Equal(res.PolledAt) || r.NextPollAt == nil || !r.NextPollAt.Equal(res.NextPollAt) ||
					r.LastPollError != res.Error || r.ConsecutiveFailures != 2 || !sameTime(r.NotFoundSince, &since) ||
					r.LastSequence != 2 || !r.Active() {
					t.Errorf("%s: polled %v next %v error %q failures %d not found since %v last %d status %s; want the poll result recorded",
						name, r.LastPolledAt, r.NextPollAt, r.LastPollError, r.ConsecutiveFailures, r.NotFoundSince, r.LastSequence, r.Status)
				}
			}
			if s, err := f.b.Shipment(f.ctx, ref.ID); err != nil || s == nil || s.Status != references.ShipmentBooked {
				t.Errorf("Shipment = %+v, %v; want the recorded snapshot", s, err)
			}
			if ups := f.updatesOf(acctA, ref.ID); !slices.Equal(seqs(ups), []uint64{1, 2}) {
				t.Errorf("feed %v, want [1 2]", seqs(ups))
			}
			f.clk.Advance(15*time.Minute - time.Second)
			f.noPollDue(ref.ID, "before the recorded NextPollAt")
			f.clk.Advance(time.Second)
			f.claimPoll("poller", ref.ID)
		})

		t.Run("KeepsContainersAndTheChangesNamingThem", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			sh := containerSnapshot(f.now())
			u := f.update(references.UpdateShipment)
			u.Shipment = sh
			u.Changes = []references.Change{
				{Type: references.ChangeContainerAdded, Description: "Container TRHU4716245 (45G1) added", New: "TRHU4716245", Container: "TRHU4716245"},
				{Type: references.ChangeEventAdded, Description: "New actual milestone", New: "x", Container: "TRHU4716245", Event: &sh.Events[1]},
			}
			f.poll(ref.ID, references.PollResult{Shipment: sh, Updates: []references.Update{u}})
			f.restart()
			got, err := f.b.Shipment(f.ctx, ref.ID)
			if err != nil {
				t.Fatal(err)
			}
			checkContainers(t, "the snapshot", got, sh)
			ups := f.updatesOf(acctA, ref.ID)
			if len(ups) != 1 {
				t.Fatalf("feed of %d updates, want 1", len(ups))
			}
			checkContainers(t, "the update's snapshot", ups[0].Shipment, sh)
			for i, c := range ups[0].Changes {
				if c.Container != u.Changes[i].Container || c.Type != u.Changes[i].Type {
					t.Errorf("change %d: %s of %q, want %s of %q", i, c.Type, c.Container, u.Changes[i].Type, u.Changes[i].Container)
				}
			}
			if e := ups[0].Changes[1].Event; e == nil || e.ISOEquipmentCode != "45G1" {
				t.Errorf("the change's event %+v, want its ISO equipment code", e)
			}
		})

		t.Run("QuietPollAfterFailuresClearsTheErrorState", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			f.poll(ref.ID, references.PollResult{Error: "timeout", ConsecutiveFailures: 1})
			f.poll(ref.ID, references.PollResult{Error: "timeout", ConsecutiveFailures: 2})
			got := f.poll(ref.ID, references.PollResult{NextPollAt: f.now().Add(time.Hour)})
			read := f.get(acctA, ref.ID)
			for name, r := range map[string]references.Reference{"returned": got, "read back": read} {
				if r.LastPollError != "" || r.ConsecutiveFailures != 0 || r.NextPollAt == nil || !r.NextPollAt.Equal(f.now().Add(time.Hour)) {
					t.Errorf("%s: error %q, failures %d, next %v; want the error cleared and next poll in 1h", name, r.LastPollError, r.ConsecutiveFailures, r.NextPollAt)
				}
			}
			f.noPollDue(ref.ID, "after a quiet poll scheduled in 1h")
		})

		t.Run("EndsTrackingAfterAppendingTheUpdates", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, withCallback(url1))
			final := f.update(references.UpdateUnsubscribed)
			final.UnsubscribeReason = references.ReasonTrackingComplete
			got := f.poll(ref.ID, references.PollResult{
				Updates: []references.Update{f.update(references.UpdateShipment), final}, Unsubscribe: references.ReasonTrackingComplete,
			})
			if got.Active() || got.UnsubscribeReason != references.ReasonTrackingComplete || got.LastSequence != 2 {
				t.Fatalf("after a poll that ends tracking: status %s, reason %s, last %d; want unsubscribed (tracking_complete) with 2 updates", got.Status, got.UnsubscribeReason, got.LastSequence)
			}
			f.clk.Advance(24 * time.Hour)
			f.noPollDue(ref.ID, "tracking ended")
			// An automatic end delivers the final updates (StopsDelivery is false).
			c := f.claimStream("deliverer", ref.ID)
			if c.Job.Update.Sequence != 1 {
				t.Fatalf("first delivery after the end of tracking: update %d, want 1", c.Job.Update.Sequence)
			}
			f.record(c.Lease, c.Job, f.attempt(c.Job, references.OutcomeDelivered))
			if job := f.next(c.Lease); job.Update.ID != final.ID {
				t.Fatalf("second delivery: %s, want the final update %s", job.Update.ID, final.ID)
			}
		})

		t.Run("UnsubscribedWhilePolledIsLeftAsItIs", func(t *testing.T) {
			f := setup(t, open)
			ref := f.create(acctA, nil)
			c := f.claimPoll("poller", ref.ID)
			if _, err := f.b.UnsubscribeReference(f.ctx, acctA, ref.ID, references.ReasonUser, f.now()); err != nil {
				t.Fatal(err)
			}
			got, err := f.b.RecordPoll(f.ctx, c.Lease, references.PollResult{
				PolledAt: f.now(), NextPollAt: f.now(), Shipment: &references.Shipment{Status: references.ShipmentBooked},
				Updates: []references.Update{f.update(references.UpdateShipment)},
			})
			if err != nil {
				t.Fatalf("RecordPoll of a reference unsubscribed meanwhile: %v", err)
			}
			read := f.get(acctA, ref.ID)
			for name, r := range map[string]references.Reference{"returned": got, "read back": read} {
				if r.Active() || r.UnsubscribeReason != references.ReasonUser || r.LastSequence != 1 {
					t.Errorf("%s: status %s, reason %s, last %d; want left unsubscribed by the user, the feed only the user's final update", name, r.Status, r.UnsubscribeReason, r.LastSequence)
				}
			}
			if s, err := f.b.Shipment(f.ctx, ref.ID); err != nil || s != nil {
				t.Errorf("Shipment = %+v, %v; want no snapshot written", s, err)
			}
			f.noPollDue(ref.ID, "unsubscribed while it was polled")
		})
	})
}

// containerSnapshot is a snapshot of a bill of lading of two containers, as
// tracking.Derive makes it: the containers' events are copies of the snapshot's.
func containerSnapshot(at time.Time) *references.Shipment {
	at = at.UTC()
	rtm := &references.Location{UNLocode: "NLRTM", Name: "Rotterdam"}
	events := []references.Event{
		{ID: "evt-1", Type: references.EventEquipment, Classifier: references.ClassifierActual, Code: references.CodeLoad, Time: at,
			Location: rtm, EquipmentReference: "MSCU1234566", ISOEquipmentCode: "22G1", EmptyIndicator: references.EmptyIndicatorLaden},
		{ID: "evt-2", Type: references.EventEquipment, Classifier: references.ClassifierActual, Code: references.CodeLoad, Time: at.Add(time.Hour),
			Location: rtm, EquipmentReference: "TRHU4716245", ISOEquipmentCode: "45G1", EmptyIndicator: references.EmptyIndicatorLaden},
		{ID: "evt-3", Type: references.EventTransport, Classifier: references.ClassifierEstimated, Code: references.CodeDeparture, Time: at.Add(9 * time.Hour), Location: rtm},
	}
	return &references.Shipment{
		Events: events, Status: references.ShipmentAtOrigin, CurrentLocation: rtm,
		Containers: []references.Container{
			{Number: "MSCU1234566", ISOEquipmentCode: "22G1", Status: references.ShipmentAtOrigin, CurrentLocation: rtm, LastEvent: &events[0], Milestones: events[:1]},
			{Number: "TRHU4716245", ISOEquipmentCode: "45G1", Status: references.ShipmentAtOrigin, CurrentLocation: rtm, LastEvent: &events[1], Milestones: events[1:2]},
		},
	}
}

// checkContainers fails unless got has the containers of want, with their events.
func checkContainers(t *testing.T, what string, got, want *references.Shipment) {
	t.Helper()
	if got == nil || len(got.Containers) != len(want.Containers) {
		t.Fatalf("%s: %+v, want %d containers", what, got, len(want.Containers))
	}
	for i, c := range got.Containers {
		w := want.Containers[i]
		if c.Number != w.Number || c.ISOEquipmentCode != w.ISOEquipmentCode || c.Status != w.Status ||
			c.CurrentLocation == nil || *c.CurrentLocation != *w.CurrentLocation ||
			c.LastEvent == nil || c.LastEvent.ID != w.LastEvent.ID || !c.LastEvent.Time.Equal(w.LastEvent.Time) ||
			len(c.Milestones) != len(w.Milestones) || c.Milestones[0].ID != w.Milestones[0].ID || c.Milestones[0].ISOEquipmentCode != w.ISOEquipmentCode {
			t.Errorf("%s: container %d is %+v, want %+v", what, i, c, w)
		}
	}
	for i, e := range got.Events {
		if e.ISOEquipmentCode != want.Events[i].ISOEquipmentCode {
			t.Errorf("%s: event %s has ISO equipment code %q, want %q", what, e.ID, e.ISOEquipmentCode, want.Events[i].ISOEquipmentCode)
		}
	}
}
