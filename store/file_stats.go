package store

import (
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FileStats is how the store's file is used, from bbolt's own counters: what the
// load tool samples while it runs to see where the file's free pages come from. The
// file never shrinks, so its size is the peak of HighWater (plus bbolt's growth step).
type FileStats struct {
	// FileBytes is the file's size on disk.
	FileBytes int64
	// PageSize is the file's page size in bytes (fixed when the file was made).
	PageSize int
	// HighWater is the bytes up to the last page ever used (bbolt's high water
	// mark): past it the file is room bbolt grew ahead of need.
	HighWater int64
	// FreePages are free pages below the high water mark, ready for reuse;
	// PendingPages were freed by a commit but wait for read transactions older than
	// it to end before they can be reused.
	FreePages    int
	PendingPages int
	// ReadTxs counts the read transactions begun since Open; OpenReadTxs are open now.
	ReadTxs     int
	OpenReadTxs int
	// TxID is the last committed write transaction's id: the commits since the file
	// was made. PagesWritten, Spills and Rebalances are the pages the commits since
	// Open wrote, the nodes they split and the nodes they merged.
	TxID         int64
	PagesWritten int64
	Spills       int64
	Rebalances   int64
	// LivePages are the pages below the high water mark neither free nor pending:
	// the buckets' pages, bbolt's two meta pages and the free list's pages if the last
	// commit wrote it.
	LivePages int64
	// InuseBytes and AllocBytes are the buckets' bytes in use (keys, values, page
	// headers) and the pages they take, summed over the top-level buckets; they are
	// read only by FileStatsDeep, which walks every page.
	InuseBytes int64
	AllocBytes int64
	// Buckets are the top-level buckets' shares of InuseBytes and AllocBytes, in
	// the root bucket's order; only FileStatsDeep reads them.
	Buckets []BucketFileStats
}

// BucketFileStats is one top-level bucket's share of the file, its nested buckets
// included.
type BucketFileStats struct {
	Name       string
	Keys       int
	InuseBytes int64
	AllocBytes int64
}

// FileStats reads the file's counters without walking its pages: cheap enough to
// call after every round of a load test.
func (db *DB) FileStats() (FileStats, error) { return db.fileStats(false) }

// FileStatsDeep is FileStats with the buckets' bytes in use, read by walking every
// page of every bucket in one read transaction: about as long as reading the file.
func (db *DB) FileStatsDeep() (FileStats, error) { return db.fileStats(true) }

func (db *DB) fileStats(deep bool) (FileStats, error) {
	var s FileStats
	fi, err := os.Stat(db.bolt.Path())
	if err != nil {
		return s, fmt.Errorf("file stats: %w", err)
	}
	s.FileBytes = fi.Size()
	err = db.bolt.View(func(tx *bolt.Tx) error {
		s.HighWater, s.TxID = tx.Size(), int64(tx.ID())
		if !deep {
			return nil
		}
		return s.readBuckets(tx)
	})
	if err != nil {
		return s, fmt.Errorf("file stats: %w", err)
	}
	bs := db.bolt.Stats()
	s.PageSize = db.bolt.Info().PageSize
	s.FreePages, s.PendingPages = bs.FreePageN, bs.PendingPageN
	s.ReadTxs, s.OpenReadTxs = bs.TxN, bs.OpenTxN
	s.PagesWritten = bs.TxStats.GetWrite()
	s.Spills = bs.TxStats.GetSpill()
	s.Rebalances = bs.TxStats.GetRebalance()
	s.LivePages = s.HighWater/int64(s.PageSize) - int64(s.FreePages+s.PendingPages)
	return s, nil
}

// readBuckets walks every top-level bucket of tx for its share of the file.
func (s *FileStats) readBuckets(tx *bolt.Tx) error {
	return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		bs := b.Stats()
		bf := BucketFileStats{
			Name: string(name), Keys: bs.KeyN,
			InuseBytes: int64(bs.BranchInuse + bs.LeafInuse),
			AllocBytes: int64(bs.BranchAlloc + bs.LeafAlloc),
		}
		s.Buckets = append(s.Buckets, bf)
		s.InuseBytes += bf.InuseBytes
		s.AllocBytes += bf.AllocBytes
		return nil
	})
}

// ReadFileStats reads the size and the buckets' shares of a store file that no
// process has open, opened read-only: after Close, so that the figures count the free
// list Close writes. Only FileBytes, PageSize, InuseBytes, AllocBytes and Buckets are
// set.
func ReadFileStats(path string) (FileStats, error) {
	var s FileStats
	fi, err := os.Stat(path)
	if err != nil {
		return s, fmt.Errorf("file stats: %w", err)
	}
	s.FileBytes = fi.Size()
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return s, fmt.Errorf("file stats: open %s: %w", path, err)
	}
	s.PageSize = b.Info().PageSize
	err = b.View(s.readBuckets)
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return s, fmt.Errorf("file stats of %s: %w", path, err)
	}
	return s, nil
}
