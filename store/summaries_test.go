package store

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/internal/clock"
	"github.com/trackhook/trackhook/references"
)

// openAt opens the store at path on clk, closed when the test ends.
func openAt(t *testing.T, path string, clk *clock.Fake) *DB {
	t.Helper()
	db, err := Open(path, Options{NoSync: true, Clock: clk})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// encodeFactsV1 writes facts as the versions before schema 5 did: a flag byte (1: an
// ETA follows), the ETA's Unix nanoseconds, then the container numbers, each followed
// by sep.
func encodeFactsV1(eta *time.Time, containers []string) []byte {
	b := []byte{0}
	if eta != nil {
		b[0] = 1
		b = append(b, timeKey(*eta)...)
	}
	for _, n := range containers {
		b = append(b, str(n)...)
	}
	return b
}

// toSchema4 takes db back to what schema 4 wrote: no counts by status, facts of the
// first format (none for a snapshot without an ETA or containers, as that version
// did not write them).
func toSchema4(t *testing.T, db *DB) {
	t.Helper()
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketStatusCount); err != nil {
			return err
		}
		facts := tx.Bucket(bucketRefFacts)
		old := map[string][]byte{}
		err := facts.ForEach(func(k, v []byte) error {
			f, err := decodeFacts(v)
			if err != nil {
				return err
			}
			if f.Summary.ETA == nil && len(f.Containers) == 0 {
				old[string(k)] = nil
			} else {
				old[string(k)] = encodeFactsV1(f.Summary.ETA, f.Containers)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for k, v := range old {
			if v == nil {
				err = facts.Delete([]byte(k))
			} else {
				err = facts.Put([]byte(k), v)
			}
			if err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put([]byte("schema_version"), u64(4))
	})
	if err != nil {
		t.Fatalf("take the store back to schema 4: %v", err)
	}
}

// TestFacts_ReadsBothFormats: facts of the first format read with the ETA as the
// first ETA too (the first is not known) and no status or route; facts of format 2
// read back as written, times with their offset; corrupt facts are errors.
func TestFacts_ReadsBothFormats(t *testing.T) {
	eta := time.Date(2026, 4, 8, 6, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		data []byte
		want searchFacts
	}{
		{"first format, nothing", []byte{0}, searchFacts{Found: true}},
		{"first format, containers", encodeFactsV1(nil, []string{"MSCU1234566", "MSCU7654321"}),
			searchFacts{Found: true, Containers: []string{"MSCU1234566", "MSCU7654321"}}},
		{"first format, an ETA", encodeFactsV1(&eta, []string{"MSCU1234566"}),
			searchFacts{Found: true, Containers: []string{"MSCU1234566"}, Summary: references.ShipmentSummary{ETA: &eta, FirstETA: &eta}}},
	} {
		got, err := decodeFacts(tc.data)
		if err != nil || !sameFacts(got, tc.want) {
			t.Errorf("%s: decodeFacts = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}

	sgt := time.FixedZone("", 8*3600)
	later := eta.Add(30 * time.Hour).In(sgt)
	for _, f := range []searchFacts{
		{Found: true},
		{Found: true, Containers: []string{"MSCU1234566"}, Summary: references.ShipmentSummary{
			Status: references.ShipmentInTransit, Origin: &references.Location{UNLocode: "NLRTM", Name: "Rotterdam"},
			Destination: &references.Location{UNLocode: "SGSIN", Name: "Singapore"}, ETA: &later, FirstETA: &eta,
		}},
		{Found: true, Summary: references.ShipmentSummary{Status: references.ShipmentBooked, Destination: &references.Location{Name: "somewhere"}, FirstETA: &eta}},
	} {
		data := encodeFacts(f)
		got, err := decodeFacts(data)
		if err != nil || !sameFacts(got, f) {
			t.Errorf("facts %+v read back as %+v, %v", f, got, err)
		}
		if got.Summary.ETA != nil {
			if _, off := got.Summary.ETA.Zone(); off != 8*3600 {
				t.Errorf("the ETA's offset read back as %d, want %d", off, 8*3600)
			}
		}
		for n := 1; n < len(data); n++ {
			if _, err := decodeFacts(data[:n]); err == nil {
				t.Errorf("facts %x cut to %d bytes read without an error", data, n)
			}
		}
	}
	for _, bad := range [][]byte{nil, {}, {3}, {1, 2, 3}, {0, 'M', 'S'}, append(encodeFacts(searchFacts{}), 0)} {
		if f, err := decodeFacts(bad); err == nil {
			t.Errorf("decodeFacts(%x) = %+v, want an error", bad, f)
		}
	}
}

func sameFacts(a, b searchFacts) bool {
	if a.Found != b.Found || len(a.Containers) != len(b.Containers) {
		return false
	}
	for i := range a.Containers {
		if a.Containers[i] != b.Containers[i] {
			return false
		}
	}
	s, u := a.Summary, b.Summary
	loc := func(x, y *references.Location) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	tm := func(x, y *time.Time) bool { return x == nil && y == nil || x != nil && y != nil && x.Equal(*y) }
	return s.Status == u.Status && loc(s.Origin, u.Origin) && loc(s.Destination, u.Destination) && tm(s.ETA, u.ETA) && tm(s.FirstETA, u.FirstETA)
}

// TestUpgrade_SummarisesTheSnapshotsOfAnOlderFile: a file of schema 4 has facts
// without summaries, and none for a snapshot without an ETA or containers. Open
// summarises every latest snapshot, the first ETA taken from the feed where it holds
// one; a list then gives the summaries and filters on them, and the summarising,
// run again as an interrupted upgrade would, changes nothing.
func TestUpgrade_SummarisesTheSnapshotsOfAnOlderFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trackhook.db")
	clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	db := openAt(t, path, clk)
	if _, err := db.EnsureAccount(ctx, "a", "whsec_one", clk.Now()); err != nil {
		t.Fatal(err)
	}
	eta := clk.Now().Add(240 * time.Hour)
	rtm := &references.Location{UNLocode: "NLRTM", Name: "Rotterdam"}
	sin := &references.Location{UNLocode: "SGSIN", Name: "Singapore"}
	poll := func(id string, s *references.Shipment, withUpdate bool) {
		t.Helper()
		res := references.PollResult{PolledAt: clk.Now(), NextPollAt: clk.Now(), Shipment: s}
		if withUpdate {
			res.Updates = []references.Update{{Type: references.UpdateShipment, CreatedAt: clk.Now(), Shipment: s,
				Changes: []references.Change{{Type: references.ChangeETAChanged, Description: "eta"}}}}
		}
		if _, err := recordPoll(t, db, id, res); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
	}
	// moved: its feed holds the first ETA, which the facts of schema 4 no longer do.
	moved := mustCreate(t, db, newRef("a", "MSCU0000001", clk.Now()))
	poll(moved.ID, &references.Shipment{Status: references.ShipmentInTransit, Origin: rtm, Destination: sin, ETA: &eta}, true)
	movedETA := eta.Add(48 * time.Hour)
	poll(moved.ID, &references.Shipment{Status: references.ShipmentTransshipment, Origin: rtm, Destination: sin, ETA: &movedETA}, true)
	// quiet: no feed; only its facts know an ETA, its own.
	quiet := mustCreate(t, db, newRef("a", "MSCU0000002", clk.Now()))
	poll(quiet.ID, &references.Shipment{Status: references.ShipmentInTransit, Destination: sin, ETA: &eta}, false)
	// bare: a snapshot without an ETA or containers, which schema 4 kept no facts of.
	bare := mustCreate(t, db, newRef("a", "MSCU0000003", clk.Now()))
	poll(bare.ID, &references.Shipment{Status: references.ShipmentBooked, Origin: rtm}, true)
	never := mustCreate(t, db, newRef("a", "MSCU0000004", clk.Now()))

	toSchema4(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openAt(t, path, clk)
	want := map[string]references.ShipmentSummary{
		moved.ID: {Status: references.ShipmentTransshipment, Origin: rtm, Destination: sin, ETA: &movedETA, FirstETA: &eta},
		quiet.ID: {Status: references.ShipmentInTransit, Destination: sin, ETA: &eta, FirstETA: &eta},
		bare.ID:  {Status: references.ShipmentBooked, Origin: rtm},
	}
	list := func(q references.ListQuery) references.ReferencePage {
		t.Helper()
		q.Limit = 10
		q, err := q.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		page, err := db.ListReferences(ctx, "a", q)
		if err != nil {
			t.Fatal(err)
		}
		return page
	}
	page := list(references.ListQuery{})
	if len(page.References) != 4 || len(page.Summaries) != len(want) {
		t.Fatalf("after the upgrade: %d references, summaries %+v; want 4 and the summaries of the 3 with a snapshot", len(page.References), page.Summaries)
	}
	for id, w := range want {
		got := page.Summaries[id]
		if !sameFacts(searchFacts{Summary: got}, searchFacts{Summary: w}) {
			t.Errorf("summary of %s after the upgrade = %+v, want %+v", id, got, w)
		}
	}
	if _, ok := page.Summaries[never.ID]; ok {
		t.Errorf("a summary of %s, which has no snapshot", never.ID)
	}
	if late := list(references.ListQuery{LateAt: ptrTime(clk.Now())}); len(late.References) != 1 || late.References[0].ID != moved.ID {
		t.Errorf("late now after the upgrade: %+v, want only %s, whose ETA moved by 48h", late.References, moved.ID)
	}

	// Run again, the summarising finds every snapshot done: it writes nothing.
	snapshot := func() []byte {
		var all bytes.Buffer
		err := db.bolt.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketRefFacts).ForEach(func(k, v []byte) error {
				all.Write(k)
				all.Write(v)
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return all.Bytes()
	}
	before := snapshot()
	if err := db.summarizeSnapshots(1); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(); !bytes.Equal(before, after) {
		t.Error("summarising again rewrote the facts")
	}
	checkStatusCounts(t, db)
}

func ptrTime(t time.Time) *time.Time { return &t }

// TestOpen_CountsAndSummarisesTheFixtures: the store files of schemas 1 and 2 come out
// of Open with their counts by status and a summary of every latest snapshot: the
// snapshot's own, but for the first ETA, which is that of the first snapshot of the
// feed that has one (ref_v1container's ETA moved).
func TestOpen_CountsAndSummarisesTheFixtures(t *testing.T) {
	for _, fx := range searchFixtures {
		t.Run(filepath.Base(fx.file), func(t *testing.T) {
			db := openCopy(t, fx.file, fx.now)
			checkStatusCounts(t, db)
			summarised := 0
			for acct := range fx.byETA {
				page, err := db.ListReferences(context.Background(), acct, references.ListQuery{Limit: 100, Sort: references.SortCreated})
				if err != nil {
					t.Fatal(err)
				}
				for _, ref := range page.References {
					s, err := db.Shipment(context.Background(), ref.ID)
					if err != nil {
						t.Fatal(err)
					}
					got, ok := page.Summaries[ref.ID]
					if ok != (s != nil) {
						t.Errorf("%s: summary given %t, snapshot stored %t", ref.ID, ok, s != nil)
						continue
					}
					if s == nil {
						continue
					}
					summarised++
					ups, err := db.ListUpdates(context.Background(), acct, ref.ID, 0, 100)
					if err != nil {
						t.Fatal(err)
					}
					var prev *references.ShipmentSummary
					for _, u := range ups {
						if u.Shipment != nil && u.Shipment.ETA != nil {
							prev = &references.ShipmentSummary{FirstETA: u.Shipment.ETA}
							break
						}
					}
					want := references.Summarize(prev, s)
					if !sameFacts(searchFacts{Summary: got}, searchFacts{Summary: want}) {
						t.Errorf("%s: summary %+v, want that of its snapshot %+v", ref.ID, got, want)
					}
				}
			}
			if summarised == 0 {
				t.Error("no reference of the fixture has a snapshot")
			}
		})
	}
}
