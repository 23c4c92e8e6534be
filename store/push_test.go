package store

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// TestPushDeletionRecord_CoversEveryField: a queued deletion's record holds every
// field of the deletion, then its due time, and converts back to the same deletion.
func TestPushDeletionRecord_CoversEveryField(t *testing.T) {
	var want []string
	for f := range reflect.TypeFor[references.PushDeletion]().Fields() {
		want = append(want, f.Name)
	}
	want = append(want, "DueAt")
	var got []string
	for f := range reflect.TypeFor[pushDeletionRecord]().Fields() {
		got = append(got, f.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("pushDeletionRecord has fields %v, want %v: add the field to the record and its conversions", got, want)
	}
	rng := rand.New(rand.NewPCG(21, 22))
	for range 20 {
		var d references.PushDeletion
		fill(rng, reflect.ValueOf(&d).Elem())
		due := d.QueuedAt.Add(time.Minute)
		rec := newPushDeletionRecord(&d, due)
		if back := rec.deletion(); !reflect.DeepEqual(back, d) || !rec.DueAt.Equal(due) {
			t.Fatalf("deletion after its record:\n got %+v (due %v)\nwant %+v (due %v)", back, rec.DueAt, d, due)
		}
	}
}

// TestDeletionKey: one key per source and subscription id, of a fixed size whatever
// the id (bbolt bounds keys, and a carrier chooses its ids), and a lease key that
// leads back to it.
func TestDeletionKey(t *testing.T) {
	pairs := [][2]string{
		{"a", "bc"}, {"ab", "c"}, {"abc", ""}, {"", "abc"}, {"a\x00", "b"}, {"a", "\x00b"},
		{"dcsa", "3fa85f64-5717-4562-b3fc-2c963f66afa6"}, {"dcsa", string(bytes.Repeat([]byte("x"), 100_000))},
	}
	seen := map[string][2]string{}
	for _, p := range pairs {
		k := deletionKey(p[0], p[1])
		if len(k) != 32 {
			t.Errorf("key of %q is %d bytes, want 32", p, len(k))
		}
		if prev, ok := seen[string(k)]; ok {
			t.Errorf("%q and %q share a key", prev, p)
		}
		seen[string(k)] = p
		back, err := leasedDeletion(references.Lease{Key: deletionLeaseKey(k)})
		if err != nil || !bytes.Equal(back, k) {
			t.Errorf("the lease key of %q leads to %x, %v; want %x", p, back, err, k)
		}
	}
	for _, key := range []string{"", "poll/ref_1", pushDeletionLease, pushDeletionLease + "zz", pushDeletionLease + "abcd"} {
		if _, err := leasedDeletion(references.Lease{Key: key}); !errors.Is(err, references.ErrLeaseLost) {
			t.Errorf("leasedDeletion(%q): %v, want ErrLeaseLost", key, err)
		}
	}
}
