package idindex

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"testing"
)

// TestIndex_MatchesAMap runs random inserts and deletes against a map, with the
// index's hash cut to a few bits so that most ids clash, and checks every id's
// number and bytes after each step, across compactions.
func TestIndex_MatchesAMap(t *testing.T) {
	for _, bits := range []uint{2, 64} {
		t.Run(fmt.Sprintf("hash of %d bits", bits), func(t *testing.T) {
			x := New(0)
			x.minDead = 4 << 10
			if bits < 64 {
				x.hash = func(seed maphash.Seed, id string) uint64 { return maphash.String(seed, id) >> (64 - bits) }
			}
			model := map[string]int32{}
			owner := map[int32]string{}
			rnd := rand.New(rand.NewPCG(1, 2))
			compactions := 0
			for step := range 60000 {
				n := rnd.IntN(3000)
				id := fmt.Sprintf("ref_%0*d", 20+n%12, n) // ids of several lengths
				if rnd.IntN(3) == 0 {
					before := len(x.names)
					i, ok := x.Delete(id)
					want, had := model[id]
					if ok != had || (ok && i != want) {
						t.Fatalf("step %d: Delete(%s) = %d, %v; want %d, %v", step, id, i, ok, want, had)
					}
					if len(x.names) < before {
						compactions++
					}
					delete(model, id)
					delete(owner, i)
				} else {
					i, added := x.Insert(id)
					want, had := model[id]
					if added == had || (had && i != want) {
						t.Fatalf("step %d: Insert(%s) = %d, %v; want %d, %v", step, id, i, added, want, !had)
					}
					if other, taken := owner[i]; added && taken {
						t.Fatalf("step %d: Insert(%s) gave number %d, which %s holds", step, id, i, other)
					}
					model[id], owner[i] = i, id
				}
				if x.Len() != len(model) {
					t.Fatalf("step %d: Len = %d, want %d", step, x.Len(), len(model))
				}
				if step%1000 == 0 || step == 59999 {
					for id, want := range model {
						if i, ok := x.Lookup(id); !ok || i != want || x.String(i) != id {
							t.Fatalf("step %d: Lookup(%s) = %d, %v (%q); want %d", step, id, i, ok, x.String(i), want)
						}
					}
				}
			}
			if _, ok := x.Lookup("ref_never"); ok {
				t.Fatal("Lookup found an id never inserted")
			}
			if compactions == 0 {
				t.Fatal("no compaction happened: the test does not cover it")
			}
		})
	}
}

func TestIndex_NumbersAreReusedAndBounded(t *testing.T) {
	x := New(4)
	a, _ := x.Insert("a")
	b, _ := x.Insert("b")
	if a != 0 || b != 1 || x.Numbers() != 2 {
		t.Fatalf("numbers %d, %d of %d; want 0, 1 of 2", a, b, x.Numbers())
	}
	x.Delete("a")
	c, added := x.Insert("c")
	if !added || c != a || x.Numbers() != 2 {
		t.Fatalf("Insert(c) = %d, %v with %d numbers; want the freed %d, true, 2", c, added, x.Numbers(), a)
	}
	if x.Compare(c, b) <= 0 || x.Compare(b, c) >= 0 || x.Compare(b, b) != 0 {
		t.Fatal("Compare does not order c after b")
	}
	if _, ok := x.Delete("a"); ok {
		t.Fatal("Delete of an id deleted before reported it held")
	}
}
