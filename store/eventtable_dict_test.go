package store

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// TestEventTable_DictionaryHoldsEachStringOnce: a table is written in format 4, each
// string of its events once in its dictionary, and takes fewer bytes than the same
// events written in format 3.
func TestEventTable_DictionaryHoldsEachStringOnce(t *testing.T) {
	db, _ := mustOpen(t)
	s := containerShipment()
	_, table := writeTable(t, db, s, []*references.Update{{ID: "upd_1", Shipment: s}})
	if table[0] != formatDict {
		t.Fatalf("table written in format %d, want %d", table[0], formatDict)
	}
	tab, d := readTable(table)
	if d.err != nil {
		t.Fatal(d.err)
	}
	seen := map[string]bool{}
	for _, b := range tab.dict.raw {
		if seen[string(b)] || len(b) == 0 {
			t.Fatalf("dictionary %q: %q twice or empty", tab.dict.raw, b)
		}
		seen[string(b)] = true
	}
	for _, want := range []string{"NLRTM", "Rotterdam", "PACIFIC MERIDIAN", "TRHU4716245", "45G1"} {
		if !seen[want] {
			t.Errorf("dictionary %q lacks %q", tab.dict.raw, want)
		}
	}
	old := inFormat3(t, tab)
	if v3 := len(appendTable(nil, old)); len(appendTable(nil, tab)) >= v3 {
		t.Errorf("table of format 4: %d bytes, of format 3: %d", len(appendTable(nil, tab)), v3)
	}
}

func TestEventTable_EventIDsReadBackAsWritten(t *testing.T) {
	tests := []struct {
		id     string
		packed bool
	}{
		{"84c726e3-0a61-48e2-9e7e-4518a1b81a15", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"84C726E3-0A61-48E2-9E7E-4518A1B81A15", false}, // upper case would not format back
		{"84c726e30a6148e29e7e4518a1b81a15", false},
		{"84c726e3-0a61-48e2-9e7e-4518a1b81a1g", false},
		{"84c726e3-0a61-48e2-9e7e-4518a1b81a1", false},
		{"84c726e3+0a61-48e2-9e7e-4518a1b81a15", false},
		{"", false}, {"evt-1", false}, {"\xff\x00", false},
	}
	for _, tc := range tests {
		var e encoder
		e.eventID(tc.id)
		if packed := len(e.b) == 17; packed != tc.packed {
			t.Errorf("%q written in %d bytes, want packed %t", tc.id, len(e.b), tc.packed)
		}
		d := decoder{b: e.b}
		if got := d.eventID(); got != tc.id || d.err != nil || len(d.b) != 0 {
			t.Errorf("%q read back as %q (%v, %d bytes left)", tc.id, got, d.err, len(d.b))
		}
	}
}

// TestEventTable_AFormat3TableTakesFormat4WithItsSlots: the table of a reference
// written before schema 7 reads as it is; the next write turns it into format 4 with
// every event in the slot it had, so the updates that refer to them read the same.
func TestEventTable_AFormat3TableTakesFormat4WithItsSlots(t *testing.T) {
	db, _ := mustOpen(t)
	s := containerShipment()
	ups := []*references.Update{{ID: "upd_1", Shipment: s, Changes: []references.Change{{Type: references.ChangeEventAdded, Event: &s.Events[2]}}}}
	vals, table := writeTable(t, db, s, ups)
	// The same table in format 3: its events written by encoder.event.
	tab, d := readTable(table)
	old := inFormat3(t, tab)
	v3 := append(appendTable([]byte{formatTable}, old), d.b...)
	err := db.update(context.Background(), func(tx *bolt.Tx) error {
		return tx.Bucket(bucketShipments).Put([]byte("ref_t"), v3)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := mustJSON(t, records(readTableValue(t, table, vals), newUpdateRecord))
	if got := mustJSON(t, records(readTableValue(t, v3, vals), newUpdateRecord)); !bytes.Equal(got, want) {
		t.Fatalf("the update read with the table of format 3:\n%s\nwant\n%s", got, want)
	}
	later := containerShipment()
	later.Events[3].Time = later.Events[3].Time.Add(time.Hour)
	_, table = writeTable(t, db, later, nil)
	if table[0] != formatDict {
		t.Fatalf("table after a write: format %d, want %d", table[0], formatDict)
	}
	if got := mustJSON(t, records(readTableValue(t, table, vals), newUpdateRecord)); !bytes.Equal(got, want) {
		t.Fatalf("the update read with the table turned to format 4:\n%s\nwant\n%s", got, want)
	}
	if tab, _ := readTable(table); len(tab.slots) != len(old.slots)+1 {
		t.Fatalf("%d slots after the write, want %d: the old ones and the moved event", len(tab.slots), len(old.slots)+1)
	}
}

// TestPrune_RebuildsTheDictionaryOfATable: once retention emptied the slots of events
// no update uses any more, the dictionary keeps the strings of the events left only.
func TestPrune_RebuildsTheDictionaryOfATable(t *testing.T) {
	ctx := context.Background()
	db, clk := mustOpen(t)
	start := clk.Now()
	ref := mustCreate(t, db, newRef("a", "MSCU1234566", start))
	first := containerShipment()
	first.Events[0].Location = &references.Location{UNLocode: "DEHAM", Name: "Hamburg"}
	if _, err := benchRecordPoll(ctx, db, ref.ID, changedPoll(first, start)); err != nil {
		t.Fatal(err)
	}
	if _, err := benchRecordPoll(ctx, db, ref.ID, changedPoll(containerShipment(), start.Add(48*time.Hour))); err != nil {
		t.Fatal(err)
	}
	dict := func() map[string]bool {
		got := map[string]bool{}
		_ = db.view(ctx, func(tx *bolt.Tx) error {
			tab, err := loadTable(tx, ref.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range tab.dict.raw {
				got[string(b)] = true
			}
			return nil
		})
		return got
	}
	if !dict()["Hamburg"] {
		t.Fatal("the first snapshot's place is not in the dictionary")
	}
	got, err := db.Prune(ctx, references.PruneRequest{Updates: start.Add(24 * time.Hour), Max: 100})
	if err != nil || got.Updates != 1 {
		t.Fatalf("prune: %+v, %v", got, err)
	}
	if d := dict(); d["Hamburg"] || d["DEHAM"] || !d["Rotterdam"] {
		t.Fatalf("dictionary after the prune: %v; want the strings of the events kept only", d)
	}
	checkIndexes(t, db)
}

// TestTableDict_NumbersAndReadsBackItsStrings: strings added to a stored dictionary,
// before any was read and past the size at which it makes its map, read back by their
// numbers, as the stored ones do; each string is numbered once.
func TestTableDict_NumbersAndReadsBackItsStrings(t *testing.T) {
	var d decoder
	e := encoder{}
	for _, s := range []string{"NLRTM", "Rotterdam"} {
		e.str(s)
	}
	d.b = append([]byte{2}, e.b...)
	dict := d.dict()
	if d.err != nil {
		t.Fatal(d.err)
	}
	numbers := map[string]uint64{}
	check := func() {
		t.Helper()
		for s, n := range numbers {
			if got, ok := dict.str(n); !ok || got != s {
				t.Fatalf("string %d = %q, %t; want %q", n, got, ok, s)
			}
		}
	}
	for i := range 2 * dictScan {
		s := fmt.Sprintf("s%d", i%(dictScan+10))
		n := dict.numberAt(i%eventFields, s)
		if was, ok := numbers[s]; ok && was != n {
			t.Fatalf("%q numbered %d, then %d", s, was, n)
		}
		numbers[s] = n
		check()
	}
	if got, _ := dict.str(2); got != "Rotterdam" {
		t.Errorf("string 2 = %q, want Rotterdam", got)
	}
	if n := dict.number("NLRTM"); n != 1 {
		t.Errorf("NLRTM numbered %d, want 1", n)
	}
	if n := dict.number(""); n != 0 {
		t.Errorf("the empty string numbered %d, want 0", n)
	}
	if _, ok := dict.str(uint64(len(dict.raw)) + 1); ok {
		t.Error("a number past the dictionary reads as a string")
	}
}

// inFormat3 returns tab's events as a table of format 3 would hold them: each written
// by encoder.event, without the dictionary.
func inFormat3(t *testing.T, tab *eventTable) *eventTable {
	t.Helper()
	old := &eventTable{slots: make([][]byte, len(tab.slots))}
	for i := range tab.slots {
		var ev references.Event
		if err := tab.decode(uint64(i), &ev); err != nil {
			t.Fatal(err)
		}
		e := encoder{format2: true}
		e.event(&ev)
		old.slots[i] = e.b
	}
	return old
}
