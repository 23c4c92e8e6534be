package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// boltShape builds a bbolt file of one shape through bbolt, run as the store runs it
// (NoFreelistSync), and returns the bytes of the file while it is still open: what a
// crash leaves on disk.
type boltShape struct {
	name string
	// build returns what to do once the crash copy is taken, or nil.
	build func(t *testing.T, db *bolt.DB) (after func())
}

var boltShapes = []boltShape{
	{"one small bucket", func(t *testing.T, db *bolt.DB) func() {
		put(t, db, [][]byte{[]byte("a")}, 1, 10)
		return nil
	}},
	{"the store's buckets after references and polls", func(t *testing.T, db *bolt.DB) func() {
		for _, name := range allBuckets {
			put(t, db, [][]byte{name}, 300, 200)
		}
		return nil
	}},
	{"many buckets, some inline", func(t *testing.T, db *bolt.DB) func() {
		for i := range 400 {
			put(t, db, [][]byte{fmt.Appendf(nil, "b%04d", i)}, i%7, 40)
		}
		return nil
	}},
	{"nested buckets three deep, inline and not", func(t *testing.T, db *bolt.DB) func() {
		for i := range 30 {
			for j := range 5 {
				path := [][]byte{fmt.Appendf(nil, "top%02d", i), fmt.Appendf(nil, "mid%d", j), []byte("leaf")}
				put(t, db, path, (i*j)%50, 100)
				put(t, db, path[:2], 3, 20)
			}
		}
		return nil
	}},
	{"large values on overflow pages", func(t *testing.T, db *bolt.DB) func() {
		put(t, db, [][]byte{[]byte("big")}, 40, 20_000)
		put(t, db, [][]byte{[]byte("huge")}, 2, 300_000)
		put(t, db, [][]byte{[]byte("small")}, 2000, 50)
		return nil
	}},
	{"deleted keys leave free pages", func(t *testing.T, db *bolt.DB) func() {
		put(t, db, [][]byte{[]byte("x")}, 5000, 300)
		put(t, db, [][]byte{[]byte("y")}, 30, 9000)
		del(t, db, []byte("x"), 2)
		del(t, db, []byte("y"), 3)
		if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("y")) }); err != nil {
			t.Fatal(err)
		}
		return nil
	}},
	{"pages pending behind a reader", func(t *testing.T, db *bolt.DB) func() {
		put(t, db, [][]byte{[]byte("p")}, 3000, 200)
		rtx, err := db.Begin(false)
		if err != nil {
			t.Fatal(err)
		}
		del(t, db, []byte("p"), 2)
		put(t, db, [][]byte{[]byte("q")}, 2000, 400)
		return func() { _ = rtx.Rollback() }
	}},
	{"more than 65,535 free pages", func(t *testing.T, db *bolt.DB) func() {
		put(t, db, [][]byte{[]byte("z")}, 70_000, 3000)
		del(t, db, []byte("z"), 1)
		return nil
	}},
}

// put writes n keys of vsize bytes into the bucket at path, creating the buckets, in
// transactions of 500 keys.
func put(t testing.TB, db *bolt.DB, path [][]byte, n, vsize int) {
	t.Helper()
	for start := 0; start == 0 || start < n; start += 500 {
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(path[0])
			for _, name := range path[1:] {
				if err != nil {
					return err
				}
				b, err = b.CreateBucketIfNotExists(name)
			}
			if err != nil {
				return err
			}
			for i := start; i < min(n, start+500); i++ {
				if err := b.Put(fmt.Appendf(nil, "key%08d", i), bytes.Repeat([]byte{byte(i)}, vsize)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// del deletes every keep-th key of the top-level bucket name.
func del(t testing.TB, db *bolt.DB, name []byte, keep int) {
	t.Helper()
	err := db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(name).Cursor()
		i := 0
		for k, _ := c.First(); k != nil; i++ {
			if i%keep == 0 {
				k, _ = c.Next()
				continue
			}
			k = bytes.Clone(k)
			if err := c.Delete(); err != nil {
				return err
			}
			k, _ = c.Seek(k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// crashedBolt builds shape and returns the path of a copy of its file taken while
// bbolt has it open.
func crashedBolt(t testing.TB, build func(*bolt.DB) (after func())) string {
	t.Helper()
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	// Mapped large enough never to grow: a reader held open would block the growth.
	db, err := bolt.Open(live, 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType, NoSync: true, InitialMmapSize: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	after := build(db)
	data, err := os.ReadFile(live)
	if err != nil {
		t.Fatal(err)
	}
	if after != nil {
		after()
	}
	crashed := filepath.Join(dir, "crashed.db")
	if err := os.WriteFile(crashed, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return crashed
}

// boltFreePages opens path read-only and returns the pages bbolt's free list holds:
// the list it reads, or the one it rebuilds when the file has none.
func boltFreePages(t testing.TB, path string) []uint64 {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var free []uint64
	err = db.View(func(tx *bolt.Tx) error {
		for id := 0; ; id++ {
			p, err := tx.Page(id)
			if err != nil {
				return err
			}
			if p == nil {
				return nil
			}
			if p.Type == "free" {
				free = append(free, uint64(id))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return free
}

// boltCheck returns what bbolt's consistency check reports on path.
func boltCheck(t testing.TB, path string) []string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var errs []string
	_ = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			errs = append(errs, err.Error())
		}
		return nil
	})
	return errs
}

func copyFile(t testing.TB, from string) string {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return to
}

func TestRepairFreelist_WritesTheListBboltWouldRebuild(t *testing.T) {
	for _, shape := range boltShapes {
		t.Run(shape.name, func(t *testing.T) {
			t.Parallel()
			crashed := crashedBolt(t, func(db *bolt.DB) func() { return shape.build(t, db) })
			if syncedFreelist(t, crashed) {
				t.Fatal("the crashed file has a free list")
			}
			want := boltFreePages(t, copyFile(t, crashed)) // bbolt's own rebuild

			for _, workers := range []int{1, 4} {
				repaired := copyFile(t, crashed)
				r, err := repairFreelist(repaired, workers)
				if err != nil {
					t.Fatal(err)
				}
				if !r.needed || !r.repaired || r.free != len(want) {
					t.Fatalf("repair with %d workers: %+v, bbolt finds %d free pages", workers, r, len(want))
				}
				if !syncedFreelist(t, repaired) {
					t.Fatal("the repaired file has no free list")
				}
				if got := boltFreePages(t, repaired); !slices.Equal(got, want) {
					t.Fatalf("bbolt reads the free pages\n%v\nit would rebuild\n%v", got, want)
				}
				if errs := boltCheck(t, repaired); len(errs) > 0 {
					t.Fatalf("bbolt's check of the repaired file: %v", errs)
				}
				assertWritable(t, repaired)
			}
		})
	}
}

// assertWritable opens path as the store's bbolt, writes, closes and checks it again.
func assertWritable(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	put(t, db, [][]byte{[]byte("after repair")}, 2000, 500)
	del(t, db, []byte("after repair"), 3)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if errs := boltCheck(t, path); len(errs) > 0 {
		t.Fatalf("bbolt's check after writing to the repaired file: %v", errs)
	}
}

func TestRepairFreelist_LeavesAFileWithAListAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "closed.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true})
	if err != nil {
		t.Fatal(err)
	}
	put(t, db, [][]byte{[]byte("a")}, 100, 100)
	db.NoFreelistSync = false // as the store's Close does
	put(t, db, [][]byte{[]byte("a")}, 1, 1)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	r, err := repairFreelist(path, 2)
	if err != nil || r.needed || r.repaired {
		t.Fatalf("repair of a closed file: %+v, %v", r, err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("the file changed")
	}
	if r, err := repairFreelist(filepath.Join(t.TempDir(), "missing.db"), 2); err != nil || r.needed {
		t.Fatalf("repair of a missing file: %+v, %v", r, err)
	}
}

func TestRepairFreelist_WaitsForNoOneAndWritesNothingWhileAnotherHasTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "held.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	put(t, db, [][]byte{[]byte("a")}, 100, 100)
	before, _ := os.ReadFile(path)
	if _, err := repairFreelist(path, 2); err != errFreelistLocked {
		t.Fatalf("repair of a file bbolt has open: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("the file changed")
	}
}

func TestRepairFreelist_WritesNothingToAFileItDoesNotUnderstand(t *testing.T) {
	crashed := crashedBolt(t, func(db *bolt.DB) func() {
		put(t, db, [][]byte{[]byte("a")}, 3000, 100)
		put(t, db, [][]byte{[]byte("b")}, 20, 9000)
		return nil
	})
	data, err := os.ReadFile(crashed)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := int(binary.NativeEndian.Uint32(data[boltPageHeader+8:]))
	meta, ok := parseBoltMeta(data[:pageSize])
	if m1, ok1 := parseBoltMeta(data[pageSize:]); !ok || ok1 && m1.txid > meta.txid {
		meta = m1
	}
	root := int(meta.root) * pageSize
	tests := []struct {
		name   string
		damage func(b []byte)
		want   string
	}{
		{"both meta pages damaged", func(b []byte) { b[boltPageHeader+60]++; b[pageSize+boltPageHeader+60]++ }, "no valid meta page"},
		{"an unknown format version", func(b []byte) {
			for _, off := range []int{0, pageSize} {
				m := b[off+boltPageHeader:]
				binary.NativeEndian.PutUint32(m[4:], 3)
				binary.NativeEndian.PutUint64(m[56:], boltMetaSum(m))
			}
		}, "no valid meta page"},
		{"the root page says it is another", func(b []byte) { b[root]++ }, "another page's id"},
		{"the root page of an unknown type", func(b []byte) { b[root+8] = 0x20 }, "unexpected type"},
		{"a child page out of range", func(b []byte) {
			for i := range int(binary.NativeEndian.Uint16(b[root+10:])) {
				binary.NativeEndian.PutUint64(b[root+boltPageHeader+i*boltElementSize+8:], 1<<40)
			}
		}, "out of range"},
		{"too many elements", func(b []byte) { binary.NativeEndian.PutUint16(b[root+10:], 0xFFFF) }, "do not fit"},
		{"overflow past the high water mark", func(b []byte) { binary.NativeEndian.PutUint32(b[root+12:], 1<<30) }, "overflow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			damaged := slices.Clone(data)
			tt.damage(damaged)
			path := filepath.Join(t.TempDir(), "damaged.db")
			if err := os.WriteFile(path, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := repairFreelist(path, 2)
			if err == nil || !strings.Contains(err.Error(), tt.want) || r.repaired {
				t.Fatalf("got %+v, %v; want an error with %q", r, err, tt.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(damaged, after) {
				t.Fatal("the file changed")
			}
		})
	}
}

func TestRepairFreelist_FindsAPageReachedTwice(t *testing.T) {
	crashed := crashedBolt(t, func(db *bolt.DB) func() { put(t, db, [][]byte{[]byte("a")}, 3000, 100); return nil })
	data, _ := os.ReadFile(crashed)
	pageSize := int(binary.NativeEndian.Uint32(data[boltPageHeader+8:]))
	meta, _ := parseBoltMeta(data[:pageSize])
	if m1, ok1 := parseBoltMeta(data[pageSize:]); ok1 && m1.txid > meta.txid {
		meta = m1
	}
	// The root bucket's only entry, bucket "a", has a branch page as root: point its
	// second child at its first.
	leaf := data[int(meta.root)*pageSize:]
	el := leaf[boltPageHeader:]
	v := boltPageHeader + int(binary.NativeEndian.Uint32(el[4:])+binary.NativeEndian.Uint32(el[8:]))
	branch := data[int(binary.NativeEndian.Uint64(leaf[v:]))*pageSize:]
	if binary.NativeEndian.Uint16(branch[8:]) != boltBranchPage {
		t.Fatal("bucket a has no branch page")
	}
	copy(branch[boltPageHeader+boltElementSize+8:], branch[boltPageHeader+8:boltPageHeader+16])
	if err := os.WriteFile(crashed, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := repairFreelist(crashed, 1); err == nil || !strings.Contains(err.Error(), "reached twice") {
		t.Fatalf("got %v", err)
	}
}

func TestOpen_RepairsTheFreeListOfAStoreLeftByACrash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trackhook.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ref := mustCreate(t, db, newRef("a", "MSCU1234566", now))
	data, err := os.ReadFile(path) // while open: what a crash leaves
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	crashed := filepath.Join(t.TempDir(), "crashed.db")
	if err := os.WriteFile(crashed, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	db, err = Open(crashed, Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "rebuilt the free page list") {
		t.Fatalf("Open did not repair the free list; it logged %q", logs.String())
	}
	if _, err := db.Reference(ctx, ref.ID); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, db, newRef("a", "CSQU3054383", now))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if errs := boltCheck(t, crashed); len(errs) > 0 {
		t.Fatalf("bbolt's check: %v", errs)
	}
}
