package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/internal/pgtest"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store/storecopy"
)

// The summaries and the filters on them are SQL of this backend's own (the late
// filter, has callback, failing): these tests hold them to the contract's Go rules,
// ListQuery.Matches and ShipmentSummary.Late, on the edges of each, through polls, the
// migration that fills the summaries of existing snapshots, and a copy.

const summaryAccount = "acct_sum"

// summaryT0 is the test clock's time: polls happen then, and "now" is then.
var summaryT0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// summarySnap is one snapshot a case's reference is polled with: a status, and an
// ETA as an offset from summaryT0 (nil: none).
type summarySnap struct {
	status references.ShipmentStatus
	eta    *time.Duration
}

func in(d time.Duration) *time.Duration { return &d }

const day = 24 * time.Hour

// summaryCases are references whose summaries and states sit on the filters' edges.
var summaryCases = []struct {
	name            string
	callback        bool
	snaps           []summarySnap
	pollError       bool
	deliveryFailing bool
	unsubscribe     bool
	lateNow         bool // late at summaryT0 with every snapshot polled (the cases' own check)
}{
	{name: "no snapshot", callback: true},
	{name: "no eta", snaps: []summarySnap{{references.ShipmentInTransit, nil}}},
	{name: "moved 24h exactly", snaps: []summarySnap{{references.ShipmentInTransit, in(10 * day)}, {references.ShipmentInTransit, in(11 * day)}}},
	{name: "moved over 24h", callback: true, snaps: []summarySnap{{references.ShipmentInTransit, in(10 * day)}, {references.ShipmentInTransit, in(11*day + time.Microsecond)}}, lateNow: true},
	{name: "passed", snaps: []summarySnap{{references.ShipmentInTransit, in(-time.Hour)}}, lateNow: true},
	{name: "passed, arrived", snaps: []summarySnap{{references.ShipmentArrived, in(-time.Hour)}}},
	{name: "eta is now", snaps: []summarySnap{{references.ShipmentInTransit, in(0)}}},
	{name: "delivered late", snaps: []summarySnap{{references.ShipmentInTransit, in(day)}, {references.ShipmentDelivered, in(3 * day)}}, lateNow: true},
	{name: "first snapshot without eta", snaps: []summarySnap{{references.ShipmentBooked, nil}, {references.ShipmentInTransit, in(-2 * time.Hour)}}, lateNow: true},
	{name: "moved earlier", snaps: []summarySnap{{references.ShipmentInTransit, in(10 * day)}, {references.ShipmentInTransit, in(8 * day)}}},
	{name: "empty returned", snaps: []summarySnap{{references.ShipmentEmptyReturned, in(-5 * day)}}},
	{name: "eta lost, then moved", snaps: []summarySnap{{references.ShipmentInTransit, in(2 * day)}, {references.ShipmentInTransit, nil}, {references.ShipmentInTransit, in(3*day + time.Hour)}}, lateNow: true},
	{name: "last poll failed", snaps: []summarySnap{{references.ShipmentInTransit, in(5 * day)}}, pollError: true},
	{name: "deliveries failing", callback: true, snaps: []summarySnap{{references.ShipmentAtOrigin, in(5 * day)}}, deliveryFailing: true},
	{name: "both failing", callback: true, pollError: true, deliveryFailing: true},
	{name: "unsubscribed, passed", callback: true, snaps: []summarySnap{{references.ShipmentInTransit, in(-day)}}, unsubscribe: true, lateNow: true},
}

// summaryShipment is the snapshot of a case's step: its container i, the status and
// ETA given, and a route.
func summaryShipment(i int, s summarySnap) *references.Shipment {
	sh := &references.Shipment{
		Status:      s.status,
		Origin:      &references.Location{UNLocode: "CNSHA", Name: "Shanghai"},
		Destination: &references.Location{UNLocode: "NLRTM", Name: "Rotterdam"},
		Containers:  []references.Container{{Number: fmt.Sprintf("MSCU%07d", i)}},
	}
	if s.eta != nil {
		eta := summaryT0.Add(*s.eta)
		sh.ETA = &eta
	}
	return sh
}

// summarySet is what the cases made: the references' ids in creation order, the
// summaries the contract's Summarize gives over each one's snapshots, and its last
// snapshot.
type summarySet struct {
	ids  []string
	sums map[string]references.ShipmentSummary
	last map[string]*references.Shipment
}

// makeSummaryCases creates and polls the cases' references through the backend.
func makeSummaryCases(t *testing.T, db *DB) summarySet {
	t.Helper()
	ctx := context.Background()
	set := summarySet{sums: map[string]references.ShipmentSummary{}, last: map[string]*references.Shipment{}}
	for i, c := range summaryCases {
		next := summaryT0
		ref := references.Reference{
			ID: fmt.Sprintf("ref_%02d", i), AccountID: summaryAccount, ContainerID: fmt.Sprintf("MSCU%07d", i),
			CarrierCode: "MSCU", Status: references.StatusActive, CreatedAt: summaryT0, UpdatedAt: summaryT0, NextPollAt: &next,
		}
		if c.callback {
			ref.CallbackURL = "https://receiver.example/" + ref.ID
		}
		if _, _, err := db.CreateReference(ctx, ref, references.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		set.ids = append(set.ids, ref.ID)
		var prev *references.ShipmentSummary
		poll := func(res references.PollResult) {
			t.Helper()
			claim, err := db.ClaimPoll(ctx, "test", ref.ID, time.Minute)
			if err != nil {
				t.Fatalf("%s: ClaimPoll: %v", c.name, err)
			}
			res.PolledAt, res.NextPollAt = summaryT0, summaryT0.Add(15*time.Minute)
			if _, err := db.RecordPoll(ctx, claim.Lease, res); err != nil {
				t.Fatalf("%s: RecordPoll: %v", c.name, err)
			}
		}
		for _, s := range c.snaps {
			sh := summaryShipment(i, s)
			poll(references.PollResult{Shipment: sh})
			sum := references.Summarize(prev, sh)
			prev, set.last[ref.ID] = &sum, sh
		}
		if prev != nil {
			set.sums[ref.ID] = *prev
		}
		if c.pollError {
			poll(references.PollResult{Error: "source answered 503", ConsecutiveFailures: 1})
		}
		if c.deliveryFailing {
			// The notifier's doing, in a test of the list: written as it stores it.
			if _, err := db.pool.Exec(ctx, `UPDATE refs SET data = data || jsonb_build_object('DeliveryState', $2::text)
				WHERE id = $1`, ref.ID, string(references.DeliveryFailing)); err != nil {
				t.Fatal(err)
			}
		}
		if c.unsubscribe {
			if _, err := db.UnsubscribeReference(ctx, summaryAccount, ref.ID, references.ReasonUser, summaryT0); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The cases are what their names say.
	for i, c := range summaryCases {
		var late bool
		if sum, ok := set.sums[set.ids[i]]; ok {
			late = sum.Late(summaryT0)
		}
		if late != c.lateNow {
			t.Fatalf("case %q: late at T0 = %v, the case says %v", c.name, late, c.lateNow)
		}
	}
	return set
}

// checkSummaryFilters lists the account with every combination of the has-callback,
// failing and late filters, in both orders and by pages of 1 and of all, and checks
// that the pages hold the references that ListQuery.Matches passes (given sums) with
// their summaries.
func checkSummaryFilters(t *testing.T, db *DB, ids []string, sums map[string]references.ShipmentSummary) {
	t.Helper()
	ctx := context.Background()
	refs := map[string]references.Reference{}
	for _, id := range ids {
		ref, err := db.GetReference(ctx, summaryAccount, id)
		if err != nil {
			t.Fatal(err)
		}
		refs[id] = ref
	}
	yes, no := true, false
	lateAts := []*time.Time{nil, &summaryT0, ptrTime(summaryT0.Add(-100 * day)), ptrTime(summaryT0.Add(100 * day))}
	for _, hasCallback := range []*bool{nil, &yes, &no} {
		for _, failing := range []bool{false, true} {
			for _, lateAt := range lateAts {
				for _, sort := range []references.ListSort{references.SortCreated, references.SortETA} {
					q := references.ListQuery{HasCallback: hasCallback, Failing: failing, LateAt: lateAt, Sort: sort}
					var want []string
					for _, id := range ids {
						ref := refs[id]
						var sum *references.ShipmentSummary
						if s, ok := sums[id]; ok {
							sum = &s
						}
						if q.Matches(&ref, sum, nil) {
							want = append(want, id)
						}
					}
					for _, limit := range []int{1, 100} {
						q.Limit = limit
						got := listSummaries(t, db, q, sums)
						slices.Sort(got)
						if !slices.Equal(got, want) {
							t.Errorf("has callback %v, failing %v, late at %v, by %s, limit %d: got %q, want %q",
								deref(hasCallback), failing, lateAt, sort, limit, got, want)
						}
					}
				}
			}
		}
	}
}

// listSummaries reads every page of q and returns the ids listed, checking the page's
// summaries against want.
func listSummaries(t *testing.T, db *DB, q references.ListQuery, want map[string]references.ShipmentSummary) []string {
	t.Helper()
	var ids []string
	for range 1000 {
		page, err := db.ListReferences(context.Background(), summaryAccount, q)
		if err != nil {
			t.Fatalf("ListReferences(%+v): %v", q, err)
		}
		for _, ref := range page.References {
			ids = append(ids, ref.ID)
			got, has := page.Summaries[ref.ID]
			w, wants := want[ref.ID]
			if has != wants || has && !sameSummary(got, w) {
				t.Errorf("summary of %s = %+v (%v), want %+v (%v)", ref.ID, got, has, w, wants)
			}
		}
		if len(page.Summaries) > len(page.References) {
			t.Errorf("the page has %d summaries for %d references", len(page.Summaries), len(page.References))
		}
		if page.NextCursor == "" {
			return ids
		}
		q.Cursor = page.NextCursor
	}
	t.Fatalf("ListReferences(%+v) never ended", q)
	return nil
}

func sameSummary(a, b references.ShipmentSummary) bool {
	return a.Status == b.Status && sameTimePtr(a.ETA, b.ETA) && sameTimePtr(a.FirstETA, b.FirstETA) &&
		sameLocation(a.Origin, b.Origin) && sameLocation(a.Destination, b.Destination)
}

func sameLocation(a, b *references.Location) bool {
	return a == nil && b == nil || a != nil && b != nil && a.UNLocode == b.UNLocode && a.Name == b.Name
}

func ptrTime(t time.Time) *time.Time { return &t }

func deref(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

// openSummaryDB opens a new database driven by the test clock at summaryT0.
func openSummaryDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), pgtest.NewDatabase(t), Options{Clock: clock.NewFake(summaryT0)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Polls keep each reference's summary (the first ETA through snapshots without
// one), and the filters on it agree with the contract's rules on every edge.
func TestSummaries_PollsKeepThemAndTheFiltersFollowTheRules(t *testing.T) {
	db := openSummaryDB(t)
	set := makeSummaryCases(t, db)
	checkSummaryFilters(t, db, set.ids, set.sums)
}

// The migrations that add the summaries fill those of the snapshots already stored,
// as Summarize does for a first snapshot, by batches that together reach every
// reference, and keep a summary written before theirs.
func TestSummaries_MigrationFillsThemFromStoredSnapshots(t *testing.T) {
	db := openSummaryDB(t)
	set := makeSummaryCases(t, db)
	ctx := context.Background()
	// More references than three batches hold, with and without snapshots, whose ids
	// sort before and after the cases'.
	const bulk = 3500
	_, err := db.pool.Exec(ctx, `
		WITH r AS (
			INSERT INTO refs (id, account_id, created_at, updated_at, status, ident_kind, ident_value, carrier_code,
				delivers, delivered_seq, last_seq, data)
			SELECT CASE WHEN i % 2 = 0 THEN 'ref_' ELSE 'zref_' END || lpad(i::text, 6, '0'), 'acct_bulk', $2, $2,
				'active', 'container_id', 'BULK' || lpad(i::text, 7, '0'), 'MSCU', false, 0, 0, '{}'
			FROM generate_series(1, $1::int) AS i
			RETURNING id)
		INSERT INTO shipments (ref_id, data)
		SELECT id, jsonb_build_object('Status', 'in_transit', 'ETA', $2::timestamptz) FROM r WHERE right(id, 1) <> '7'`,
		bulk, summaryT0)
	if err != nil {
		t.Fatal(err)
	}
	p, sqlDB, err := newProvider(db.pool)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	if _, err := p.DownTo(ctx, 4); err != nil {
		t.Fatalf("migrate down to 4: %v", err)
	}
	if _, err := p.UpTo(ctx, 5); err != nil {
		t.Fatalf("migrate up to 5: %v", err)
	}
	// A summary written between the two migrations (by an instance of this version)
	// is kept.
	kept := set.sums[set.ids[2]]
	data, err := json.Marshal(kept)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, "UPDATE refs SET summary = $2, first_eta = $3 WHERE id = $1", set.ids[2], data, kept.FirstETA); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	want := firstSummaries(set)
	want[set.ids[2]] = kept
	checkSummaryFilters(t, db, set.ids, want)
	var missing, filled int
	err = db.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE r.summary IS NULL), count(*) FILTER (WHERE r.summary->>'Status' = 'in_transit')
		FROM refs r JOIN shipments s ON s.ref_id = r.id WHERE r.account_id = 'acct_bulk'`).Scan(&missing, &filled)
	if err != nil || missing != 0 || filled != bulk-bulk/10 {
		t.Fatalf("bulk references: %d snapshots without a summary, %d with (%v); want 0 and %d", missing, filled, err, bulk-bulk/10)
	}
}

// A copy rebuilds the summaries from the snapshots it carries and the first ETA of
// those whose ETA moved, which only they carry.
func TestSummaries_CopyRebuildsThem(t *testing.T) {
	src := openSummaryDB(t)
	set := makeSummaryCases(t, src)
	ctx := context.Background()
	var records []storecopy.Record
	if err := src.Dump(ctx, func(r storecopy.Record) error { records = append(records, r); return nil }); err != nil {
		t.Fatal(err)
	}
	var firsts int
	for _, r := range records {
		if sh, ok := r.(storecopy.Shipment); ok && sh.FirstETA != nil {
			firsts++
			sum := set.sums[sh.ReferenceID]
			if !sameTimePtr(sh.FirstETA, sum.FirstETA) || sameTimePtr(sh.FirstETA, sh.Shipment.ETA) {
				t.Errorf("the record of %s carries the first ETA %v; its summary has %v, its snapshot %v",
					sh.ReferenceID, sh.FirstETA, sum.FirstETA, sh.Shipment.ETA)
			}
		}
	}
	if want := 5; firsts != want { // the ETAs that moved, or were lost
		t.Errorf("%d shipment records carry a first ETA, want %d", firsts, want)
	}
	dst := openSummaryDB(t)
	seq := iter.Seq2[storecopy.Record, error](func(yield func(storecopy.Record, error) bool) {
		for _, r := range records {
			if !yield(r, nil) {
				return
			}
		}
	})
	if err := dst.Load(ctx, seq); err != nil {
		t.Fatal(err)
	}
	checkSummaryFilters(t, dst, set.ids, set.sums)
}

// firstSummaries are the summaries of set's last snapshots as first ones.
func firstSummaries(set summarySet) map[string]references.ShipmentSummary {
	sums := map[string]references.ShipmentSummary{}
	for id, sh := range set.last {
		sums[id] = references.Summarize(nil, sh)
	}
	return sums
}
