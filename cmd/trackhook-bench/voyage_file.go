package main

import (
	"sort"
	"time"

	"github.com/trackhook/trackhook/store"
)

// The voyage phase's view of the file while it grows: bbolt's counters after the
// polls and after the prune of every round, so that the report says when the file
// grew, and whether it grew with the data live at that moment or past it (free pages
// that bbolt did not reuse).

// deepEvery is how many rounds apart the phase walks every page for the bytes in
// use (a walk takes about as long as reading the file); the cheap counters are read
// at every round.
const deepEvery = 5

// deepBuckets is how many of the largest buckets a deep sample lists.
const deepBuckets = 6

// fileSample is the file at one moment of the voyage. Bytes are whole pages but for
// InuseBytes.
type fileSample struct {
	Day   int    `json:"day"`
	After string `json:"after"` // "polls" or "prune"
	// FileBytes is the file's size; HighWaterBytes the pages up to the last used
	// (the rest of the file is bbolt's growth step ahead of need); LiveBytes the
	// pages below it neither free nor pending; FreeBytes free pages ready for reuse;
	// PendingBytes pages freed but waiting for older read transactions to end.
	FileBytes      int64 `json:"file_bytes"`
	HighWaterBytes int64 `json:"high_water_bytes"`
	LiveBytes      int64 `json:"live_bytes"`
	FreeBytes      int64 `json:"free_bytes"`
	PendingBytes   int64 `json:"pending_bytes"`
	// InuseBytes is what the buckets' pages hold (keys, values, headers): only
	// every deepEvery rounds, after the prune.
	InuseBytes int64 `json:"inuse_bytes,omitempty"`
	// Buckets are the largest buckets' shares then, in use and allocated.
	Buckets []bucketSize `json:"buckets,omitempty"`
	// Commits and PagesWritten are bbolt's write transactions and the pages they
	// wrote since the previous sample; OpenReadTxs the read transactions open.
	Commits      int64 `json:"commits"`
	PagesWritten int64 `json:"pages_written"`
	OpenReadTxs  int   `json:"open_read_txs"`
}

// fileTrace is the samples of one voyage, with the peaks found in them.
type fileTrace struct {
	PageSize int `json:"page_size"`
	// PeakLiveBytes is the most live pages at a sample, on PeakLiveDay; the file's
	// high water mark at the end against it says how much of the file is growth
	// past the live data.
	PeakLiveBytes int64 `json:"peak_live_bytes"`
	PeakLiveDay   int   `json:"peak_live_day"`
	// FileGrewDays are the days after which the file was larger than before.
	FileGrewDays []int        `json:"file_grew_days"`
	Samples      []fileSample `json:"samples"`
	// SampleCPUMicro is the CPU time the samples took in all, left out of the
	// phase's CPU per poll.
	SampleCPUMicro float64 `json:"sample_cpu_us"`

	last store.FileStats
}

// fileStatser is the part of the bbolt store the samples read.
type fileStatser interface {
	FileStats() (store.FileStats, error)
	FileStatsDeep() (store.FileStats, error)
}

// sample reads the file's counters at day, after the polls or the prune; deep walks
// the pages for the bytes in use. It returns the CPU time it took, which the phase
// leaves out of its CPU per poll.
func (t *fileTrace) sample(db fileStatser, day int, after string, deep bool) (time.Duration, error) {
	cpu0 := cpuTime()
	read := db.FileStats
	if deep {
		read = db.FileStatsDeep
	}
	s, err := read()
	if err != nil {
		return 0, err
	}
	page := int64(s.PageSize)
	fs := fileSample{
		Day: day, After: after,
		FileBytes: s.FileBytes, HighWaterBytes: s.HighWater, LiveBytes: s.LivePages * page,
		FreeBytes: int64(s.FreePages) * page, PendingBytes: int64(s.PendingPages) * page,
		InuseBytes: s.InuseBytes, OpenReadTxs: s.OpenReadTxs,
		Commits: s.TxID - t.last.TxID, PagesWritten: s.PagesWritten - t.last.PagesWritten,
	}
	fs.Buckets = bucketSizes(s.Buckets)
	sort.Slice(fs.Buckets, func(i, j int) bool { return fs.Buckets[i].AllocBytes > fs.Buckets[j].AllocBytes })
	fs.Buckets = fs.Buckets[:min(len(fs.Buckets), deepBuckets)]
	if len(t.Samples) == 0 {
		fs.Commits, fs.PagesWritten = 0, 0 // nothing to compare with
	} else if s.FileBytes > t.last.FileBytes && (len(t.FileGrewDays) == 0 || t.FileGrewDays[len(t.FileGrewDays)-1] != day) {
		t.FileGrewDays = append(t.FileGrewDays, day)
	}
	if fs.LiveBytes > t.PeakLiveBytes {
		t.PeakLiveBytes, t.PeakLiveDay = fs.LiveBytes, day
	}
	t.PageSize = s.PageSize
	t.Samples = append(t.Samples, fs)
	t.last = s
	d := cpuTime() - cpu0
	t.SampleCPUMicro += float64(d) / float64(time.Microsecond)
	return d, nil
}

// bucketSizes turns the store's bucket statistics into the figures' form.
func bucketSizes(bs []store.BucketFileStats) []bucketSize {
	out := make([]bucketSize, 0, len(bs))
	for _, b := range bs {
		out = append(out, bucketSize{Name: b.Name, Keys: b.Keys, InuseBytes: b.InuseBytes, AllocBytes: b.AllocBytes})
	}
	return out
}
