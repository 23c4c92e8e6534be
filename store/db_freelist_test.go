package store

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// syncedFreelist reads the current meta page of a bbolt file and reports whether it
// points to a written free page list (bbolt marks "not written" with the page id
// 0xffffffffffffffff). The meta page: a 16-byte page header, then magic, version,
// page size and flags (4 bytes each), the root bucket (16), the free list page id (8),
// the high water mark (8) and the transaction id (8), little-endian.
func syncedFreelist(t *testing.T, path string) bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	meta := func(off int) (txid, freelist uint64) {
		m := data[off+16:]
		return binary.LittleEndian.Uint64(m[48:]), binary.LittleEndian.Uint64(m[32:])
	}
	pageSize := int(binary.LittleEndian.Uint32(data[16+8:]))
	tx0, fl0 := meta(0)
	tx1, fl1 := meta(pageSize)
	if tx1 > tx0 {
		fl0 = fl1
	}
	return fl0 != ^uint64(0)
}

func TestClose_WritesTheFreePageListSoTheNextOpenNeedNotRebuildIt(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trackhook.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mustCreate(t, db, newRef("a", "MSCU1234566", now))
	// While the store is open, commits do not write the list: a crash leaves none.
	crashed := copyStore(t, db)
	if syncedFreelist(t, crashed) {
		t.Fatal("a commit wrote the free page list")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if !syncedFreelist(t, path) {
		t.Fatal("Close did not write the free page list")
	}
	// Both are opened, the crashed one by rebuilding its list.
	for _, p := range []string{path, crashed} {
		db, err := Open(p, Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Reference(ctx, "nope"); err == nil {
			t.Fatal("found a reference that does not exist")
		}
		db.Close()
	}
}
