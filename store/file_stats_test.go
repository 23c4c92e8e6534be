package store

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func TestFileStats_AccountForTheFilesPages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trackhook.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 50 {
		mustCreate(t, db, newRef("a", fmt.Sprintf("MSCU%07d", i), now))
	}
	s, err := db.FileStats()
	if err != nil {
		t.Fatal(err)
	}
	page := int64(s.PageSize)
	switch {
	case s.PageSize < 1024:
		t.Fatalf("page size %d", s.PageSize)
	case s.HighWater <= 0 || s.HighWater > s.FileBytes:
		t.Fatalf("high water mark %d in a file of %d bytes", s.HighWater, s.FileBytes)
	case s.LivePages <= 0 || (s.LivePages+int64(s.FreePages+s.PendingPages))*page != s.HighWater:
		t.Fatalf("live %d, free %d and pending %d pages do not add up to the high water mark %d", s.LivePages, s.FreePages, s.PendingPages, s.HighWater)
	case s.TxID < 50:
		t.Fatalf("%d commits after 50 creations", s.TxID)
	case s.InuseBytes != 0 || s.Buckets != nil:
		t.Fatalf("FileStats walked the pages: %+v", s)
	}
	deep, err := db.FileStatsDeep()
	if err != nil {
		t.Fatal(err)
	}
	if deep.InuseBytes <= 0 || deep.InuseBytes > deep.AllocBytes || deep.AllocBytes > deep.LivePages*page {
		t.Fatalf("in use %d, allocated %d, live pages %d", deep.InuseBytes, deep.AllocBytes, deep.LivePages)
	}
	var refs BucketFileStats
	for _, b := range deep.Buckets {
		if b.Name == string(bucketRefs) {
			refs = b
		}
	}
	if refs.Keys != 50 || refs.InuseBytes <= 0 {
		t.Fatalf("the refs bucket: %+v", refs)
	}

	// Closed, the file reads the same buckets (Close writes only the free list).
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	closed, err := ReadFileStats(path)
	if err != nil {
		t.Fatal(err)
	}
	if closed.InuseBytes != deep.InuseBytes || closed.AllocBytes != deep.AllocBytes || len(closed.Buckets) != len(deep.Buckets) || closed.PageSize != s.PageSize {
		t.Fatalf("closed file: in use %d, allocated %d, %d buckets, page %d; open: %d, %d, %d, %d",
			closed.InuseBytes, closed.AllocBytes, len(closed.Buckets), closed.PageSize, deep.InuseBytes, deep.AllocBytes, len(deep.Buckets), s.PageSize)
	}
	if closed.FileBytes < closed.AllocBytes {
		t.Fatalf("a file of %d bytes holds %d allocated", closed.FileBytes, closed.AllocBytes)
	}
}
