package store

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// writeTable writes, as RecordPoll does, the current snapshot cur (when not nil) and
// the updates ups of the reference "ref_t" in one transaction, and returns the stored
// updates and the reference's value of the shipments bucket.
func writeTable(t testing.TB, db *DB, cur *references.Shipment, ups []*references.Update) ([][]byte, []byte) {
	t.Helper()
	var vals [][]byte
	var table []byte
	err := db.update(context.Background(), func(tx *bolt.Tx) error {
		w := newEventWriter(tx, "ref_t")
		if cur != nil {
			if err := w.setCurrent(cur); err != nil {
				return err
			}
		}
		for _, u := range ups {
			v, err := w.encodeUpdate(u)
			if err != nil {
				return err
			}
			vals = append(vals, v)
		}
		if err := w.flush(); err != nil {
			return err
		}
		table = bytes.Clone(tx.Bucket(bucketShipments).Get([]byte("ref_t")))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return vals, table
}

// readTableValue decodes the updates vals with the table value table.
func readTableValue(t *testing.T, table []byte, vals [][]byte) []references.Update {
	t.Helper()
	tab, d := readTable(table)
	if d.err != nil {
		t.Fatal(d.err)
	}
	out := make([]references.Update, len(vals))
	for i, v := range vals {
		if err := decodeTableUpdate(v, tab, &out[i]); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	return out
}

func TestEventTable_RoundTripsAsJSONDid(t *testing.T) {
	db, _ := mustOpen(t)
	rng := rand.New(rand.NewPCG(21, 22))
	var ups []*references.Update
	for range 8 {
		u := &references.Update{}
		fill(rng, reflect.ValueOf(u).Elem())
		ups = append(ups, u)
	}
	empty := &references.Update{}
	emptyCollections(reflect.ValueOf(empty).Elem())
	empty.Shipment = &references.Shipment{Events: []references.Event{}, Containers: []references.Container{}}
	ups = append(ups, empty, &references.Update{}, &references.Update{Shipment: containerShipment()})
	cur := ups[2].Shipment
	vals, table := writeTable(t, db, cur, ups)
	for i, got := range readTableValue(t, table, vals) {
		if a, b := asJSON(t, &got), viaJSON(t, ups[i]); !bytes.Equal(a, b) {
			t.Fatalf("update %d:\n got %s\nwant %s", i, a, b)
		}
	}
	var s references.Shipment
	if err := decodeShipment(table, &s); err != nil {
		t.Fatal(err)
	}
	if a, b := asJSON(t, &s), viaJSON(t, cur); !bytes.Equal(a, b) {
		t.Fatalf("current snapshot:\n got %s\nwant %s", a, b)
	}
}

// TestEventTable_StoresEachEventOnce: updates whose snapshots share events, and a
// change that names one of them, add each distinct event to the table once, and a
// later write adds only what is new.
func TestEventTable_StoresEachEventOnce(t *testing.T) {
	db, _ := mustOpen(t)
	s1 := containerShipment()
	s2 := containerShipment()
	s2.Events = append(slices.Clone(s2.Events), references.Event{ID: "new", Type: references.EventTransport, Code: references.CodeArrival, Time: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)})
	ups := []*references.Update{
		{ID: "upd_1", Shipment: s1},
		{ID: "upd_2", Shipment: s2, Changes: []references.Change{{Type: references.ChangeEventAdded, Event: &s2.Events[len(s2.Events)-1]}}},
	}
	_, table := writeTable(t, db, s2, ups)
	tab, _ := readTable(table)
	if got, want := len(tab.slots), len(s2.Events); got != want {
		t.Fatalf("%d events in the table, want %d (the distinct ones)", got, want)
	}
	s3 := containerShipment()
	s3.Events[0].Time = s3.Events[0].Time.Add(time.Hour)
	_, table = writeTable(t, db, s3, []*references.Update{{ID: "upd_3", Shipment: s3}})
	if tab, _ = readTable(table); len(tab.slots) != len(s2.Events)+1 {
		t.Fatalf("%d events in the table after one moved, want %d", len(tab.slots), len(s2.Events)+1)
	}
}

func TestEventTable_CorruptValuesAreErrors(t *testing.T) {
	db, _ := mustOpen(t)
	u := &references.Update{}
	fill(rand.New(rand.NewPCG(23, 24)), reflect.ValueOf(u).Elem())
	vals, table := writeTable(t, db, u.Shipment, []*references.Update{u})
	tab, _ := readTable(table)
	for n := 1; n < len(vals[0]); n++ {
		var got references.Update
		if err := decodeTableUpdate(vals[0][:n], tab, &got); !errors.Is(err, errCorrupt) {
			t.Fatalf("an update cut to %d of %d bytes: got %v, want errCorrupt", n, len(vals[0]), err)
		}
	}
	for n := 1; n < len(table); n++ {
		var s references.Shipment
		if err := decodeShipment(table[:n], &s); !errors.Is(err, errCorrupt) {
			t.Fatalf("a table cut to %d of %d bytes: got %v, want errCorrupt", n, len(table), err)
		}
	}
	// An update read with a table that lacks its events.
	var got references.Update
	if err := decodeTableUpdate(vals[0], &eventTable{}, &got); !errors.Is(err, errCorrupt) {
		t.Fatalf("an update without its table: got %v, want errCorrupt", err)
	}
}

// FuzzDecodeTable feeds damaged bytes to the reading of a table value and of an update
// of format 3 against it: an error, never a panic or an allocation without bound.
func FuzzDecodeTable(f *testing.F) {
	db, _ := mustOpen(f)
	rng := rand.New(rand.NewPCG(25, 26))
	for range 3 {
		u := &references.Update{}
		fill(rng, reflect.ValueOf(u).Elem())
		vals, table := writeTable(f, db, u.Shipment, []*references.Update{u})
		f.Add(table[1:], vals[0][1:])
	}
	s := containerShipment()
	vals, table := writeTable(f, db, s, []*references.Update{{Shipment: s, Changes: []references.Change{{Event: &s.Events[1]}}}})
	f.Add(table[1:], vals[0][1:])
	s.Events[0].ID = "84c726e3-0a61-48e2-9e7e-4518a1b81a15" // packed (see encoder.eventID)
	vals, table = writeTable(f, db, s, []*references.Update{{Shipment: s}})
	f.Add(table[1:], vals[0][1:])
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}, []byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	// An update whose summary's metadata claims billions of entries: retention's
	// reading of it (markUpdateEvents) went on skipping them after the error.
	f.Add([]byte{0}, []byte("\x00\x00\x00\x00\xffۏ\xf9\xce\x03\x00\x00\x00$\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x02\x00\x01\x05\x00\x01\x02\x03\x13\x00\x00\x04\x04\x00\x03\vMSCU1234566\x0445G1\nin_transit\x01\x05N&RTM\tRotterdam\x01\x03\x02\x00\x05evt-1\tEQUIPMENT\x03ACT\x04LOAD\xc0\xb5Ӛ\r\x00\x00\x01\x05NLRTM\tRotterdam\x01\x10PACIFIC MERIDIAN\a9815903\x04412W\x06VESSEL\vMSCU1234566\x05LADEN\x00\x0445G1\vTRHU4716245\x0445G1\nin_transit\x01\x05NLRTM\tRotterdam\x01\x03\x03\x02\x04\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, table, update []byte) {
		// The update is read as a value of format 3, the table as one of format 3 and
		// of format 4 (see formatDict), whatever their first bytes.
		for _, format := range []byte{formatTable, formatDict} {
			fuzzTable(t, append([]byte{format}, table...), append([]byte{formatTable}, update...))
		}
	})
}

// fuzzTable is FuzzDecodeTable's check of one table value and one update.
func fuzzTable(t *testing.T, table, update []byte) {
	{
		var s references.Shipment
		_ = decodeShipment(table, &s)
		tab, d := readTable(table)
		if d.err != nil {
			return
		}
		tab.used = make([]bool, len(tab.slots))
		_ = markUpdateEvents(update, tab) // what retention reads of it
		tab.used = nil
		var u references.Update
		if err := decodeTableUpdate(update, tab, &u); err != nil {
			return
		}
		// What reads also re-encodes and reads back the same.
		var again references.Update
		if err := decodeUpdate(encodeUpdate(&u), &again); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if a, b := asJSON(t, &u), asJSON(t, &again); !bytes.Equal(a, b) {
			t.Fatalf("re-encoding changed the value:\n%s\n%s", a, b)
		}
	}
}

// TestPrune_ReclaimsTheEventsOfPrunedUpdates: once retention deleted the old updates
// of a reference, the events only they used leave its table (their slots emptied),
// and what is left reads as before.
func TestPrune_ReclaimsTheEventsOfPrunedUpdates(t *testing.T) {
	ctx := context.Background()
	db, clk := mustOpen(t)
	start := clk.Now()
	ref := mustCreate(t, db, newRef("a", "MSCU1234566", start))
	base := containerShipment()
	for day := range 6 {
		at := start.Add(time.Duration(day) * 24 * time.Hour)
		s := containerShipment()
		s.Events = slices.Clone(base.Events)
		for i := range s.Events {
			s.Events[i].Time = s.Events[i].Time.Add(time.Duration(day) * time.Hour) // every event moves
		}
		res := changedPoll(s, at)
		if _, err := benchRecordPoll(ctx, db, ref.ID, res); err != nil {
			t.Fatal(err)
		}
	}
	before, err := db.ListUpdates(ctx, "a", ref.ID, 0, 100)
	if err != nil || len(before) != 6 {
		t.Fatalf("%d updates, %v", len(before), err)
	}
	slots := func() (all, live int) {
		_ = db.view(ctx, func(tx *bolt.Tx) error {
			tab, err := loadTable(tx, ref.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tab.slots {
				if s != nil {
					live++
				}
			}
			all = len(tab.slots)
			return nil
		})
		return all, live
	}
	n := len(base.Events)
	if all, live := slots(); all != 6*n || live != 6*n {
		t.Fatalf("before the prune: %d slots, %d live; want %d", all, live, 6*n)
	}
	got, err := db.Prune(ctx, references.PruneRequest{Updates: start.Add(4*24*time.Hour - time.Minute), Max: 100})
	if err != nil || got.Updates != 4 {
		t.Fatalf("prune: %+v, %v", got, err)
	}
	if all, live := slots(); all != 6*n || live != 2*n {
		t.Fatalf("after the prune: %d slots, %d live; want %d and %d", all, live, 6*n, 2*n)
	}
	after, err := db.ListUpdates(ctx, "a", ref.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := mustJSON(t, records(after, newUpdateRecord)), mustJSON(t, records(before[4:], newUpdateRecord)); !bytes.Equal(a, b) {
		t.Fatalf("the updates kept read otherwise after the prune:\n%s\n%s", a, b)
	}
	s, err := db.Shipment(ctx, ref.ID)
	if err != nil || !bytes.Equal(asJSON(t, s), asJSON(t, before[5].Shipment)) {
		t.Fatalf("current snapshot after the prune: %v", err)
	}
	// A poll after the prune appends to the table; the numbers stay.
	res := changedPoll(base, start.Add(7*24*time.Hour))
	if _, err := benchRecordPoll(ctx, db, ref.ID, res); err != nil {
		t.Fatal(err)
	}
	if all, live := slots(); all != 7*n || live != 3*n {
		t.Fatalf("after a poll: %d slots, %d live; want %d and %d", all, live, 7*n, 3*n)
	}
	checkIndexes(t, db)
}

func TestEventTable_TextsPackTheirTimes(t *testing.T) {
	for _, s := range []string{
		"", "no time", "2026-07-15T09:00:00Z",
		"Estimated vessel arrival at BEANR moved from 2026-07-15T09:00:00Z to 2026-07-17T21:00:00Z",
		"2026-07-15T09:00:00Z2026-07-17T21:00:00Z", "at 2026-07-15T09:00:00Z.",
		"2026-02-30T00:00:00Z",      // no such day: kept as it is
		"0001-01-01T00:00:00Z",      // before 1970: kept as it is
		"2026-07-15T09:00:00+02:00", // not UTC
		"\xff 2026-07-15T09:00:00Z", // not UTF-8
		"2026-07-15T09:00:00.5Z", "9999-12-31T23:59:59Z",
	} {
		var e encoder
		e.text(s)
		d := decoder{b: e.b}
		if got := d.text(); got != s || d.err != nil || len(d.b) != 0 {
			t.Errorf("%q reads back as %q (%v, %d bytes left)", s, got, d.err, len(d.b))
		}
		if n := len(e.b); strings.Contains(s, "2026-07-15T09:00:00Z") && utf8.ValidString(s) && n > len(s)-10 {
			t.Errorf("%q takes %d bytes: its times are not packed", s, n)
		}
	}
	for _, w := range append(storedWords[:], "", "other") {
		var e encoder
		e.word(w)
		d := decoder{b: e.b}
		if got := d.word(); got != w || d.err != nil {
			t.Errorf("word %q reads back as %q, %v", w, got, d.err)
		}
	}
}

// BenchmarkDecodeStoredUpdate compares reading one update as a delivery does
// (getUpdate): of format 2, which carries its 15-event snapshot, and of format 3,
// which reads its reference's table (here the 15 events and 15 more) first.
func BenchmarkDecodeStoredUpdate(b *testing.B) {
	db, _ := mustOpen(b)
	s := benchShipment(b)
	u := changedPoll(s, benchNow).Updates[0]
	u.ID, u.ReferenceID, u.Sequence = "upd_2KWPBgLlAfxdpx2AI54pPJ85f4W", "ref_t", 7
	u.Reference = references.ReferenceSummary{ID: u.ReferenceID, ContainerID: "MSCU1234566", CarrierCode: "MAEU"}
	older := *s
	older.Events = slices.Clone(s.Events)
	for i := range older.Events {
		older.Events[i].Time = older.Events[i].Time.Add(-time.Hour)
	}
	writeTable(b, db, &older, nil)
	vals, _ := writeTable(b, db, s, []*references.Update{&u})
	old := encodeUpdate(&u)
	b.Run("format2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got references.Update
			if err := decodeUpdate(old, &got); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(old)), "bytes")
	})
	b.Run("format3", func(b *testing.B) {
		b.ReportAllocs()
		err := db.view(context.Background(), func(tx *bolt.Tx) error {
			for b.Loop() {
				var got references.Update
				if err := decodeStoredUpdate(tx, updateKey("ref_t", 7), vals[0], &got); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(vals[0])), "bytes")
	})
}
