package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runSummaries exercises the shipment summaries of ListReferences (ReferencePage.Summaries)
// and the filters of the console: HasCallback, Failing and LateAt.
func runSummaries(t *testing.T, open Opener) {
	t.Run("Summaries", func(t *testing.T) {
		t.Run("FilledOnEveryPathAndFirstETAKept", func(t *testing.T) {
			f := setup(t, open)
			eta := Start.Add(240 * time.Hour)
			rtm := &references.Location{UNLocode: "NLRTM", Name: "Rotterdam"}
			sha := &references.Location{UNLocode: "CNSHA", Name: "Shanghai"}
			moved := f.create(acctA, nil)
			f.clk.Advance(time.Second)
			lateFirst := f.create(acctA, nil)
			f.clk.Advance(time.Second)
			none := f.create(acctA, nil)
			// The same container in another account, with another route.
			other := f.create(acctB, func(r *references.Reference) { r.ContainerID = moved.ContainerID })
			f.poll(other.ID, references.PollResult{Shipment: &references.Shipment{Status: references.ShipmentBooked, Origin: sha, Destination: rtm}})

			steps := []struct {
				name          string
				moved, late   *references.Shipment // the poll's new snapshot of each (nil: none)
				wantMoved     references.ShipmentSummary
				wantLateFirst *references.ShipmentSummary // nil: no snapshot yet
			}{
				{"first snapshots",
					&references.Shipment{Status: references.ShipmentInTransit, Origin: rtm, Destination: sha, ETA: &eta},
					&references.Shipment{Status: references.ShipmentBooked},
					references.ShipmentSummary{Status: references.ShipmentInTransit, Origin: rtm, Destination: sha, ETA: &eta, FirstETA: &eta},
					&references.ShipmentSummary{Status: references.ShipmentBooked}},
				{"the ETA moves; the first ETA of one without comes",
					&references.Shipment{Status: references.ShipmentTransshipment, Origin: rtm, Destination: sha, ETA: ptr(eta.Add(30 * time.Hour))},
					&references.Shipment{Status: references.ShipmentAtOrigin, Origin: sha, ETA: ptr(eta.Add(time.Hour))},
					references.ShipmentSummary{Status: references.ShipmentTransshipment, Origin: rtm, Destination: sha, ETA: ptr(eta.Add(30 * time.Hour)), FirstETA: &eta},
					&references.ShipmentSummary{Status: references.ShipmentAtOrigin, Origin: sha, ETA: ptr(eta.Add(time.Hour)), FirstETA: ptr(eta.Add(time.Hour))}},
				{"a snapshot without an ETA",
					&references.Shipment{Status: references.ShipmentTransshipment, Origin: rtm, Destination: sha},
					nil,
					references.ShipmentSummary{Status: references.ShipmentTransshipment, Origin: rtm, Destination: sha, FirstETA: &eta},
					&references.ShipmentSummary{Status: references.ShipmentAtOrigin, Origin: sha, ETA: ptr(eta.Add(time.Hour)), FirstETA: ptr(eta.Add(time.Hour))}},
				{"an ETA again, and arrival",
					&references.Shipment{Status: references.ShipmentArrived, Origin: rtm, Destination: sha, ETA: ptr(eta.Add(10 * time.Hour))},
					nil,
					references.ShipmentSummary{Status: references.ShipmentArrived, Origin: rtm, Destination: sha, ETA: ptr(eta.Add(10 * time.Hour)), FirstETA: &eta},
					&references.ShipmentSummary{Status: references.ShipmentAtOrigin, Origin: sha, ETA: ptr(eta.Add(time.Hour)), FirstETA: ptr(eta.Add(time.Hour))}},
			}
			for i, step := range steps {
				f.clk.Advance(time.Minute)
				if step.moved != nil {
					f.poll(moved.ID, references.PollResult{Shipment: step.moved})
				}
				if step.late != nil {
					f.poll(lateFirst.ID, references.PollResult{Shipment: step.late})
				}
				if i == len(steps)-1 {
					f.restart()
				}
				want := map[string]references.ShipmentSummary{moved.ID: step.wantMoved}
				if step.wantLateFirst != nil {
					want[lateFirst.ID] = *step.wantLateFirst
				}
				for _, q := range []references.ListQuery{
					{Sort: references.SortCreated},
					{Sort: references.SortETA},
					{Sort: references.SortCreated, Identifier: "MSCU*"},
					{Sort: references.SortCreated, Identifier: moved.ContainerID},
					{Sort: references.SortETA, Identifier: lateFirst.ContainerID},
					{Sort: references.SortCreated, Identifier: none.ContainerID},
				} {
					for _, limit := range []int{1, 10} {
						q.Limit = limit
						ids, got := f.listSummaries(acctA, q)
						for _, id := range ids {
							w, ok := want[id]
							g, found := got[id]
							switch {
							case ok != found:
								t.Errorf("%s, %+v: summary of %s given %t, want %t (it has a snapshot: %t)", step.name, q, id, found, ok, ok)
							case ok && !sameSummary(g, w):
								t.Errorf("%s, %+v: summary of %s = %s, want %s", step.name, q, id, fmtSummary(g), fmtSummary(w))
							}
						}
					}
				}
			}
		})

		t.Run("FiltersOfTheConsole", func(t *testing.T) {
			f := setup(t, open)
			l := newLateSet(f)
			all := []string{l.none, l.noETA, l.onTime, l.moved24, l.moved25, l.earlier, l.arrivedMoved, l.arrivedOnTime}
			for _, tc := range []struct {
				name string
				q    references.ListQuery
				want []string
			}{
				{"with a callback", references.ListQuery{HasCallback: ptr(true)}, []string{l.onTime, l.moved25}},
				{"without a callback", references.ListQuery{HasCallback: ptr(false)}, without(all, l.onTime, l.moved25)},
				{"late before every ETA: moved more than a day", references.ListQuery{LateAt: &Start},
					[]string{l.moved25, l.arrivedMoved}},
				{"late at the ETA: it has not passed", references.ListQuery{LateAt: &l.eta},
					[]string{l.moved25, l.earlier, l.arrivedMoved}},
				{"late an hour after the ETA", references.ListQuery{LateAt: ptr(l.eta.Add(time.Hour))},
					[]string{l.onTime, l.moved25, l.earlier, l.arrivedMoved}},
				{"late past the ETA moved by a day", references.ListQuery{LateAt: ptr(l.eta.Add(25 * time.Hour))},
					[]string{l.onTime, l.moved24, l.moved25, l.earlier, l.arrivedMoved}},
				{"late, with a callback", references.ListQuery{LateAt: &Start, HasCallback: ptr(true)}, []string{l.moved25}},
				{"late, by ETA", references.ListQuery{LateAt: ptr(l.eta.Add(time.Hour)), Sort: references.SortETA},
					[]string{l.earlier, l.onTime, l.moved25, l.arrivedMoved}},
				{"late, an exact identifier", references.ListQuery{LateAt: &Start, Identifier: l.containerOf[l.moved25]}, []string{l.moved25}},
				{"late, an identifier on time", references.ListQuery{LateAt: &Start, Identifier: l.containerOf[l.onTime]}, nil},
			} {
				for _, limit := range []int{1, 10} {
					q := tc.q
					q.Limit = limit
					if q.Sort == "" {
						q.Sort = references.SortCreated
					}
					if got, _ := f.listAll(acctA, q); !slices.Equal(got, tc.want) {
						t.Errorf("%s (limit %d) = %s, want %s", tc.name, limit, l.names(got), l.names(tc.want))
					}
				}
			}
		})

		t.Run("FailingFilter", func(t *testing.T) {
			f := setup(t, open)
			healthy := f.create(acctA, withCallback(url1))
			f.poll(healthy.ID, references.PollResult{Shipment: &references.Shipment{Status: references.ShipmentInTransit}})
			f.clk.Advance(time.Second) // creation order is by time
			pollFails := f.create(acctA, nil)
			f.poll(pollFails.ID, references.PollResult{Error: "carrier timed out", ConsecutiveFailures: 1})
			f.clk.Advance(time.Second)
			recovered := f.create(acctA, nil)
			f.poll(recovered.ID, references.PollResult{Error: "carrier timed out", ConsecutiveFailures: 1})
			f.poll(recovered.ID, references.PollResult{Shipment: &references.Shipment{Status: references.ShipmentBooked}})
			f.clk.Advance(time.Second)
			deliveryFails := f.create(acctA, withCallback(url2))
			f.appendUpdates(deliveryFails.ID, references.UpdateShipment, references.UpdateShipment)
			c := f.claimStream("owner-1", deliveryFails.ID)
			first := f.attempt(c.Job, references.OutcomeFailed)
			retry := f.now().Add(2 * leaseFor)
			first.NextRetryAt = &retry
			f.record(c.Lease, c.Job, first)
			f.clk.Set(retry)
			c = f.claimStream("owner-1", deliveryFails.ID)
			if r := f.record(c.Lease, c.Job, f.attempt(c.Job, references.OutcomeGaveUp)); r.DeliveryState != references.DeliveryFailing {
				t.Fatalf("the callback stream after giving up is %q, want failing", r.DeliveryState)
			}
			if err := f.b.ReleaseLease(f.ctx, c.Lease); err != nil {
				t.Fatal(err)
			}
			other := f.create(acctB, nil)
			f.poll(other.ID, references.PollResult{Error: "carrier timed out", ConsecutiveFailures: 1})
			for _, tc := range []struct {
				name string
				q    references.ListQuery
				want []string
			}{
				{"failing", references.ListQuery{Failing: true}, []string{pollFails.ID, deliveryFails.ID}},
				{"failing, with a callback", references.ListQuery{Failing: true, HasCallback: ptr(true)}, []string{deliveryFails.ID}},
				{"failing, by ETA", references.ListQuery{Failing: true, Sort: references.SortETA}, []string{pollFails.ID, deliveryFails.ID}},
				{"not filtered", references.ListQuery{}, []string{healthy.ID, pollFails.ID, recovered.ID, deliveryFails.ID}},
			} {
				for _, limit := range []int{1, 10} {
					q := tc.q
					q.Limit = limit
					if q.Sort == "" {
						q.Sort = references.SortCreated
					}
					if got, _ := f.listAll(acctA, q); !slices.Equal(got, tc.want) {
						t.Errorf("%s (limit %d) = %q, want %q", tc.name, limit, got, tc.want)
					}
				}
			}
		})
	})
}

// lateSet is references of acctA, created a second apart, whose snapshots make them
// late or not at various times (see ShipmentSummary.Late), and one of acctB late at
// every time. eta is the first ETA of every one that has one.
type lateSet struct {
	none          string // never polled
	noETA         string // a snapshot without an ETA
	onTime        string // ETA eta, in transit; a callback
	moved24       string // eta, then eta+24h: not more than a day
	moved25       string // eta, then eta+25h: late at any time; a callback
	earlier       string // eta, then eta-48h
	arrivedMoved  string // eta, then eta+48h and arrived: it came late
	arrivedOnTime string // eta and arrived
	eta           time.Time
	containerOf   map[string]string
	nameOf        map[string]string
}

func newLateSet(f *fixture) lateSet {
	f.t.Helper()
	l := lateSet{eta: Start.Add(240 * time.Hour), containerOf: map[string]string{}, nameOf: map[string]string{}}
	transit := func(eta time.Time) *references.Shipment {
		return &references.Shipment{Status: references.ShipmentInTransit, ETA: &eta}
	}
	arrived := func(eta time.Time) *references.Shipment {
		return &references.Shipment{Status: references.ShipmentArrived, ETA: &eta}
	}
	for _, r := range []struct {
		name     string
		id       *string
		callback string
		polls    []*references.Shipment
	}{
		{"none", &l.none, "", nil},
		{"noETA", &l.noETA, "", []*references.Shipment{{Status: references.ShipmentInTransit}}},
		{"onTime", &l.onTime, url1, []*references.Shipment{transit(l.eta)}},
		{"moved24", &l.moved24, "", []*references.Shipment{transit(l.eta), transit(l.eta.Add(24 * time.Hour))}},
		{"moved25", &l.moved25, url2, []*references.Shipment{transit(l.eta), transit(l.eta.Add(25 * time.Hour))}},
		{"earlier", &l.earlier, "", []*references.Shipment{transit(l.eta), transit(l.eta.Add(-48 * time.Hour))}},
		{"arrivedMoved", &l.arrivedMoved, "", []*references.Shipment{transit(l.eta), arrived(l.eta.Add(48 * time.Hour))}},
		{"arrivedOnTime", &l.arrivedOnTime, "", []*references.Shipment{transit(l.eta), arrived(l.eta)}},
	} {
		ref := f.create(acctA, withCallback(r.callback))
		for _, s := range r.polls {
			f.poll(ref.ID, references.PollResult{Shipment: s})
		}
		*r.id = ref.ID
		l.containerOf[ref.ID], l.nameOf[ref.ID] = ref.ContainerID, r.name
		f.clk.Advance(time.Second)
	}
	other := f.create(acctB, withCallback(url1))
	f.poll(other.ID, references.PollResult{Shipment: transit(l.eta)})
	f.poll(other.ID, references.PollResult{Shipment: transit(l.eta.Add(100 * time.Hour))})
	return l
}

// names gives the set's names of ids, for messages.
func (l *lateSet) names(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if out[i] = l.nameOf[id]; out[i] == "" {
			out[i] = id
		}
	}
	return out
}

// without returns ids less some.
func without(ids []string, some ...string) []string {
	return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return slices.Contains(some, id) })
}

// listSummaries lists every page of q and returns the ids and the summaries given.
// It fails the test on a summary of a reference that is not on its page.
func (f *fixture) listSummaries(accountID string, q references.ListQuery) ([]string, map[string]references.ShipmentSummary) {
	f.t.Helper()
	var ids []string
	sums := map[string]references.ShipmentSummary{}
	for pages := 0; pages < 100; pages++ {
		page, err := f.b.ListReferences(f.ctx, accountID, q)
		if err != nil {
			f.t.Fatalf("ListReferences(%+v): %v", q, err)
		}
		for id, s := range page.Summaries {
			if !slices.ContainsFunc(page.References, func(r references.Reference) bool { return r.ID == id }) {
				f.t.Fatalf("ListReferences(%+v) gave the summary of %s, which is not on its page", q, id)
			}
			sums[id] = s
		}
		for _, r := range page.References {
			if r.AccountID != accountID {
				f.t.Fatalf("ListReferences(%s) returned %s of account %s", accountID, r.ID, r.AccountID)
			}
			ids = append(ids, r.ID)
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	return ids, sums
}

// sameSummary compares summaries by value, times by their instant.
func sameSummary(a, b references.ShipmentSummary) bool {
	return a.Status == b.Status && sameLocation(a.Origin, b.Origin) && sameLocation(a.Destination, b.Destination) &&
		sameTime(a.ETA, b.ETA) && sameTime(a.FirstETA, b.FirstETA)
}

func sameLocation(a, b *references.Location) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func fmtSummary(s references.ShipmentSummary) string {
	loc := func(l *references.Location) string {
		if l == nil {
			return "-"
		}
		return l.UNLocode + " " + l.Name
	}
	tm := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("{%s from %s to %s, ETA %s, first %s}", s.Status, loc(s.Origin), loc(s.Destination), tm(s.ETA), tm(s.FirstETA))
}
