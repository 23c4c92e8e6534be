package store

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// FuzzRepairFreelist damages a store left by a crash (bytes written over at one
// place: meta pages, page headers, elements, data) and repairs it. The repair must
// never panic, must leave the file as it was unless it repairs it, and what it writes
// must be sound: bbolt opens the file and its consistency check finds nothing, but
// for the order of keys, which the repair does not read.
func FuzzRepairFreelist(f *testing.F) {
	image, err := os.ReadFile(crashedBolt(f, func(db *bolt.DB) func() {
		put(f, db, [][]byte{[]byte("a")}, 200, 60)
		put(f, db, [][]byte{[]byte("b"), []byte("nested")}, 100, 30)
		put(f, db, [][]byte{[]byte("c")}, 3, 6000)
		put(f, db, [][]byte{[]byte("d")}, 2, 10)
		del(f, db, []byte("a"), 3)
		return nil
	}))
	if err != nil {
		f.Fatal(err)
	}
	pageSize := int(native.Uint32(image[boltPageHeader+8:]))
	for _, at := range []int{0, 16, 40, 60, pageSize + 48, pageSize + 70, 2 * pageSize, 3*pageSize + 8, 3*pageSize + 16, 4*pageSize + 12} {
		f.Add(uint32(at), []byte{0xFF})
		f.Add(uint32(at), []byte{0, 0, 0, 0, 0, 0, 0, 0})
	}
	f.Fuzz(func(t *testing.T, at uint32, patch []byte) {
		damaged := slices.Clone(image)
		copy(damaged[int(at)%len(damaged):], patch)
		path := filepath.Join(t.TempDir(), "damaged.db")
		if err := os.WriteFile(path, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := repairFreelist(path, 2)
		after, rerr := os.ReadFile(path)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if !r.repaired {
			if !bytes.Equal(after, damaged) {
				t.Fatalf("the file changed without a repair (%v)", err)
			}
			return
		}
		for _, e := range boltCheck(t, path) {
			if !strings.Contains(e, "needs to be") { // key order
				t.Fatalf("bbolt's check of the repaired file: %s", e)
			}
		}
	})
}
