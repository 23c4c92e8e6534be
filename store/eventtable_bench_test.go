package store

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// BenchmarkEventTable measures, on one goroutine and without a commit, what a
// changed poll does with its reference's event table ("write": read the table, take
// in a snapshot with one event moved and the update that carries it, write the table
// back) and what a delivery or a feed read does ("read": read the table and decode
// one update with its snapshot), for the snapshot of BenchmarkRecordPoll with its
// event ids as they are and as UUIDs (as DCSA carriers give them).
func BenchmarkEventTable(b *testing.B) {
	for _, ids := range []string{"plain", "uuid"} {
		s := benchShipment(b)
		if ids == "uuid" {
			for i := range s.Events {
				s.Events[i].ID = fmt.Sprintf("84c726e3-0a61-48e2-9e7e-4518a1b8%04x", i)
			}
		}
		db, _ := mustOpen(b)
		u := changedPoll(s, benchNow).Updates[0]
		vals, _ := writeTable(b, db, s, []*references.Update{&u})
		moved := *s
		moved.Events = slices.Clone(s.Events)
		moved.Events[len(moved.Events)-1].Time = moved.Events[len(moved.Events)-1].Time.Add(time.Hour)
		next := changedPoll(&moved, benchNow.Add(time.Hour)).Updates[0]
		b.Run("write/"+ids, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tx, err := db.bolt.Begin(true)
				if err != nil {
					b.Fatal(err)
				}
				w := newEventWriter(tx, "ref_t")
				if err := w.setCurrent(&moved); err != nil {
					b.Fatal(err)
				}
				up := next
				if _, err := w.encodeUpdate(&up); err != nil {
					b.Fatal(err)
				}
				if err := w.flush(); err != nil {
					b.Fatal(err)
				}
				if err := tx.Rollback(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("read/"+ids, func(b *testing.B) {
			b.ReportAllocs()
			tx, err := db.bolt.Begin(false)
			if err != nil {
				b.Fatal(err)
			}
			defer tx.Rollback()
			for b.Loop() {
				r := feedReader{tx: tx}
				var got references.Update
				if err := r.decode("ref_t", vals[0], &got); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
