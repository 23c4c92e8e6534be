package store

// Repair the free page list after a crash.
//
// The store runs bbolt with NoFreelistSync (see Open): commits do not write bbolt's list
// of free pages, Close does. After a crash the last meta page says "no list", and
// bbolt's Open rebuilds it with its full consistency check, every page into a map and
// the order of every key compared: 51 s on a store of a million references. Finding the
// free pages needs much less: the pages reachable from the root bucket, read from page
// headers, branch elements and the bucket entries of leaf pages. repairFreelist walks
// them before bbolt opens the file, and writes the list after the last used page and a
// new meta page pointing to it, as a bbolt commit that wrote its list would; bbolt then
// reads the list instead of rebuilding it.
//
// This writes bbolt's file format (go.etcd.io/bbolt v1.5, format version 2) outside
// bbolt, so it writes only when everything it reads is as bbolt would have written it;
// anything else (an unknown version, no valid meta page, a page out of range or reached
// twice, a page of an unexpected type) leaves the file untouched for bbolt's own
// rebuild. The new meta page goes to the slot of the older one, after the list is on
// disk: a crash in between leaves the meta page bbolt would have used anyway.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/bits"
	"os"
	"runtime"
	"sync"
	"time"
)

// bbolt's on-disk constants (go.etcd.io/bbolt/internal/common). Integers are in the
// machine's byte order, as bbolt writes its structs.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	boltNoFreelist = ^uint64(0)

	// A page starts with its id (8 bytes), flags (2), element count (2) and the number of
	// overflow pages that follow it (4).
	boltPageHeader = 16
	// Branch elements are pos, ksize (4 each) and the child page id (8); leaf elements
	// are flags, pos, ksize and vsize (4 each). pos counts from the element itself.
	boltElementSize = 16
	// The meta page's fields after the page header, up to and with the checksum.
	boltMetaSize = 64

	boltBranchPage   = 0x01
	boltLeafPage     = 0x02
	boltMetaPage     = 0x04
	boltFreelistPage = 0x10
	boltBucketEntry  = 0x01 // leaf element flag: the value is a nested bucket

	// A free list of 0xFFFF ids or more keeps the count in its first 8 bytes.
	boltFreelistEscape = 0xFFFF
)

var native = binary.NativeEndian

// boltMeta is a bbolt meta page.
type boltMeta struct {
	pageSize uint32
	flags    uint32
	root     uint64 // the root bucket's page
	sequence uint64 // the root bucket's sequence
	freelist uint64 // the free list's page, boltNoFreelist when none was written
	pgid     uint64 // the high water mark: pages at and after it are unused
	txid     uint64
}

// parseBoltMeta reads the meta page in page and reports whether bbolt would accept it:
// the magic number, format version and checksum.
func parseBoltMeta(page []byte) (boltMeta, bool) {
	if len(page) < boltPageHeader+boltMetaSize {
		return boltMeta{}, false
	}
	m := page[boltPageHeader : boltPageHeader+boltMetaSize]
	if native.Uint32(m[0:]) != boltMagic || native.Uint32(m[4:]) != boltVersion {
		return boltMeta{}, false
	}
	if native.Uint64(m[56:]) != boltMetaSum(m) {
		return boltMeta{}, false
	}
	return boltMeta{
		pageSize: native.Uint32(m[8:]),
		flags:    native.Uint32(m[12:]),
		root:     native.Uint64(m[16:]),
		sequence: native.Uint64(m[24:]),
		freelist: native.Uint64(m[32:]),
		pgid:     native.Uint64(m[40:]),
		txid:     native.Uint64(m[48:]),
	}, true
}

// boltMetaSum is bbolt's checksum of a meta page: FNV-1a 64 of the fields before it.
func boltMetaSum(m []byte) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(m[:56]) // a hash never fails to write
	return h.Sum64()
}

// boltMetaTxid reads a meta page's transaction id whether or not the page is valid:
// bbolt compares them before validating.
func boltMetaTxid(page []byte) uint64 {
	if len(page) < boltPageHeader+boltMetaSize {
		return 0
	}
	return native.Uint64(page[boltPageHeader+48:])
}

// encodeBoltMeta returns the page bbolt would write for m: in slot txid % 2, with the
// checksum, the rest of the page zero.
func encodeBoltMeta(m boltMeta) []byte {
	page := make([]byte, m.pageSize)
	native.PutUint64(page[0:], m.txid%2)
	native.PutUint16(page[8:], boltMetaPage)
	f := page[boltPageHeader : boltPageHeader+boltMetaSize]
	native.PutUint32(f[0:], boltMagic)
	native.PutUint32(f[4:], boltVersion)
	native.PutUint32(f[8:], m.pageSize)
	native.PutUint32(f[12:], m.flags)
	native.PutUint64(f[16:], m.root)
	native.PutUint64(f[24:], m.sequence)
	native.PutUint64(f[32:], m.freelist)
	native.PutUint64(f[40:], m.pgid)
	native.PutUint64(f[48:], m.txid)
	native.PutUint64(f[56:], boltMetaSum(f))
	return page
}

// encodeBoltFreelist returns the free list page (and its overflow pages) for ids, in
// ascending order, as page id first.
func encodeBoltFreelist(ids []uint64, first uint64, pageSize int) []byte {
	words := len(ids)
	if len(ids) >= boltFreelistEscape {
		words++
	}
	size := boltPageHeader + 8*words
	n := (size + pageSize - 1) / pageSize
	buf := make([]byte, n*pageSize)
	native.PutUint64(buf[0:], first)
	native.PutUint16(buf[8:], boltFreelistPage)
	native.PutUint16(buf[10:], uint16(min(len(ids), boltFreelistEscape)))
	native.PutUint32(buf[12:], uint32(n-1))
	body := buf[boltPageHeader:]
	if len(ids) >= boltFreelistEscape {
		native.PutUint64(body, uint64(len(ids)))
		body = body[8:]
	}
	for i, id := range ids {
		native.PutUint64(body[8*i:], id)
	}
	return buf
}

// errFreelistUnsupported is returned where the file cannot be mapped or locked.
var errFreelistUnsupported = errors.New("free list repair is not supported on " + runtime.GOOS)

// errFreelistLocked is returned when another process holds the file: bbolt's Open
// waits for it and reports it.
var errFreelistLocked = errors.New("the file is locked by another process")

// freelistRepair says what repairFreelist found and did.
type freelistRepair struct {
	needed   bool // the current meta page has no free list
	repaired bool // a list and a meta page were written
	pages    uint64
	free     int
	took     time.Duration
}

// repairFreelistAfterCrash runs repairFreelist and logs what it did; a failure is no
// error of Open's, since bbolt then rebuilds the list itself, only slower.
func repairFreelistAfterCrash(path string, log *slog.Logger) {
	r, err := repairFreelist(path, runtime.GOMAXPROCS(0))
	switch {
	case errors.Is(err, errFreelistLocked):
		// bbolt's Open waits for the lock and says so.
	case err != nil:
		log.Warn("could not rebuild the free page list after an unclean stop; bbolt rebuilds it by checking the whole file, which takes longer",
			"path", path, "err", err)
	case r.repaired:
		log.Info("rebuilt the free page list after an unclean stop",
			"path", path, "pages", r.pages, "free_pages", r.free, "took", r.took.Round(time.Millisecond))
	}
}

// repairFreelist writes the free page list of the bbolt file at path when its current
// meta page has none (see the top of this file), walking the pages with workers
// goroutines. A missing or empty file, or one with a list, is left as it is.
func repairFreelist(path string, workers int) (freelistRepair, error) {
	start := time.Now()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return freelistRepair{}, nil
	}
	if err != nil {
		return freelistRepair{}, fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	// bbolt takes the same lock: no other process opens the file while this one writes,
	// nor this one while another has the file open.
	if err := lockFile(f); err != nil {
		return freelistRepair{}, err
	}
	defer unlockFile(f)

	info, err := f.Stat()
	if err != nil {
		return freelistRepair{}, fmt.Errorf("stat: %w", err)
	}
	if info.Size() == 0 {
		return freelistRepair{}, nil
	}
	meta, err := readBoltMeta(f, info.Size())
	if err != nil {
		return freelistRepair{}, err
	}
	if meta.freelist != boltNoFreelist {
		return freelistRepair{}, nil
	}
	r := freelistRepair{needed: true, pages: meta.pgid}
	ps := uint64(meta.pageSize)
	if meta.pgid < 3 || meta.pgid > uint64(info.Size())/ps {
		return r, fmt.Errorf("high water mark %d beyond the file's %d pages", meta.pgid, uint64(info.Size())/ps)
	}
	// Each worker reads a part of the file in order through a file of its own, so that
	// the kernel sees as many sequential readers and reads ahead for each: read in
	// turns through one file, a store not in the page cache was read at a quarter of
	// the disk's speed.
	files := []io.ReaderAt{f}
	for range max(workers, 1) - 1 {
		g, err := os.Open(path)
		if err != nil {
			return r, fmt.Errorf("open: %w", err)
		}
		defer g.Close()
		files = append(files, g)
	}
	free, err := freePages(files, meta)
	if err != nil {
		return r, err
	}

	// The list goes after the last used page, which no meta page refers to, and is on
	// disk before the meta page that points to it.
	list := encodeBoltFreelist(free, meta.pgid, int(ps))
	if _, err := f.WriteAt(list, int64(meta.pgid*ps)); err != nil {
		return r, fmt.Errorf("write the free list: %w", err)
	}
	if err := f.Sync(); err != nil {
		return r, fmt.Errorf("sync the free list: %w", err)
	}
	next := meta
	next.freelist = meta.pgid
	next.pgid = meta.pgid + uint64(len(list))/ps
	next.txid = meta.txid + 1
	if _, err := f.WriteAt(encodeBoltMeta(next), int64(next.txid%2*ps)); err != nil {
		return r, fmt.Errorf("write the meta page: %w", err)
	}
	if err := f.Sync(); err != nil {
		return r, fmt.Errorf("sync the meta page: %w", err)
	}
	r.repaired, r.free, r.took = true, len(free), time.Since(start)
	return r, nil
}

// readBoltMeta returns the meta page bbolt would use: the page size from the first
// valid meta page (page 0, else page 1 at one of the sizes bbolt tries), then of the
// two meta pages at that size the one with the higher transaction id if it is valid,
// else the other.
func readBoltMeta(f io.ReaderAt, size int64) (boltMeta, error) {
	page := make([]byte, boltPageHeader+boltMetaSize)
	read := func(off int64) []byte {
		if n, err := f.ReadAt(page, off); n < len(page) && err != nil {
			return nil
		}
		return page
	}
	m, ok := parseBoltMeta(read(0))
	for i := 0; !ok && i <= 14; i++ {
		off := int64(1024) << i
		if off >= size-1024 {
			break
		}
		m, ok = parseBoltMeta(read(off))
	}
	if !ok {
		return boltMeta{}, errors.New("no valid meta page")
	}
	ps := m.pageSize
	if ps < 1024 || ps > 1<<24 || bits.OnesCount32(ps) != 1 {
		return boltMeta{}, fmt.Errorf("unexpected page size %d", ps)
	}
	var (
		txid [2]uint64
		ms   [2]boltMeta
		oks  [2]bool
	)
	for slot := range 2 {
		p := read(int64(slot) * int64(ps))
		// bbolt checks the headers only when asked to (tx.Check): stricter here.
		if p == nil || native.Uint64(p) != uint64(slot) || native.Uint16(p[8:]) != boltMetaPage {
			return boltMeta{}, fmt.Errorf("meta page %d has a damaged header", slot)
		}
		txid[slot] = boltMetaTxid(p)
		ms[slot], oks[slot] = parseBoltMeta(p)
	}
	txid0, m0, ok0, txid1, m1, ok1 := txid[0], ms[0], oks[0], txid[1], ms[1], oks[1]
	a, aok, b, bok := m0, ok0, m1, ok1
	if txid1 > txid0 {
		a, aok, b, bok = m1, ok1, m0, ok0
	}
	switch {
	case aok:
		m = a
	case bok:
		m = b
	default:
		return boltMeta{}, errors.New("no valid meta page")
	}
	if m.pageSize != ps {
		return boltMeta{}, fmt.Errorf("meta pages disagree on the page size (%d, %d)", ps, m.pageSize)
	}
	return m, nil
}

// freePages returns the pages from 2 to meta's high water mark that are not reachable
// from its root bucket, ascending: the list bbolt's rebuild computes, without its checks
// of key order. It fails on anything a bbolt commit would not have written.
//
// Reading the pages where the tree leads, through a memory map, cost 5 us per page here:
// nearly all of it the first touch of each page (a TLB miss and a cache miss, in a
// virtual machine). Reading the whole file in order with large reads and parsing each
// page where it lies costs a tenth of that, so the pages are read in order first, by
// a goroutine per file in files (the same file opened as many times), keeping of each
// only what the walk needs (pageScan); the walk then runs in memory.
func freePages(files []io.ReaderAt, meta boltMeta) ([]uint64, error) {
	scan, err := scanPages(files, meta)
	if err != nil {
		return nil, err
	}
	seen := make([]uint64, (meta.pgid+63)/64) // a bit per page reached
	stack := []uint64{meta.root}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if id < 2 || id >= meta.pgid {
			return nil, fmt.Errorf("page %d is out of range [2, %d)", id, meta.pgid)
		}
		overflow, kids, err := scan.page(id)
		if err != nil {
			return nil, err
		}
		for p := id; p <= id+overflow; p++ {
			if seen[p/64]&(1<<(p%64)) != 0 {
				return nil, fmt.Errorf("page %d is reached twice", p)
			}
			seen[p/64] |= 1 << (p % 64)
		}
		stack = append(stack, kids...)
	}
	var free []uint64
	for id := uint64(2); id < meta.pgid; id++ {
		if seen[id/64]&(1<<(id%64)) == 0 {
			free = append(free, id)
		}
	}
	return free, nil
}

// scanChunk is how many bytes a worker reads at once.
const scanChunk = 1 << 20

// pageScan is what the walk needs of every page, read in order: whether it is a branch
// or leaf page as bbolt writes them, its overflow pages, and the pages it refers to (a
// branch page's children, the roots of a leaf page's nested buckets). Pages that are
// free or the middle of an overflow run are read as well, since nothing tells them
// apart before the walk; what they seem to hold is never followed.
type pageScan struct {
	hwm     uint64
	perPart uint64
	parts   []scanPart
}

// scanPart is the pages of one chunk.
type scanPart struct {
	state []uint32 // per page: its overflow count, or a scanBad reason
	first []uint32 // per page and one more: where its references start in kids
	kids  []uint64
}

// A page's state above scanBad is why the walk must not follow it.
const (
	scanBad = 0xFFFFFFF0 + iota
	scanWrongID
	scanWrongType
	scanTooLong
	scanNoFit
)

// page returns page id's overflow count and references, or why it is not sound.
func (s *pageScan) page(id uint64) (overflow uint64, kids []uint64, err error) {
	part := &s.parts[id/s.perPart]
	i := id % s.perPart
	switch st := part.state[i]; st {
	case scanWrongID:
		return 0, nil, fmt.Errorf("page %d holds another page's id", id)
	case scanWrongType:
		return 0, nil, fmt.Errorf("page %d has an unexpected type", id)
	case scanTooLong:
		return 0, nil, fmt.Errorf("page %d: its overflow pages go past the high water mark %d", id, s.hwm)
	case scanNoFit:
		return 0, nil, fmt.Errorf("page %d: its elements do not fit in it", id)
	default:
		return uint64(st), part.kids[part.first[i]:part.first[i+1]], nil
	}
}

// scanPages reads pages 0 to meta's high water mark in chunks, a goroutine per file
// in files, each reading its part of the file in order.
func scanPages(files []io.ReaderAt, meta boltMeta) (*pageScan, error) {
	ps := uint64(meta.pageSize)
	s := &pageScan{hwm: meta.pgid, perPart: max(scanChunk/ps, 1)}
	s.parts = make([]scanPart, (meta.pgid+s.perPart-1)/s.perPart)
	var (
		wg      sync.WaitGroup
		errs    = make([]error, len(files))
		workers = uint64(len(files))
		parts   = uint64(len(s.parts))
	)
	for w, f := range files {
		wg.Go(func() {
			buf := make([]byte, s.perPart*ps)
			for n := parts * uint64(w) / workers; n < parts*uint64(w+1)/workers; n++ {
				first := n * s.perPart
				count := min(s.perPart, meta.pgid-first)
				chunk := buf[:count*ps]
				if _, err := f.ReadAt(chunk, int64(first*ps)); err != nil {
					errs[w] = fmt.Errorf("read pages %d-%d: %w", first, first+count-1, err)
					return
				}
				if errs[w] = s.parts[n].scan(f, chunk, first, meta.pgid, ps); errs[w] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// scan parses the pages in chunk, the first of which is page first. A page whose
// elements run past the chunk (into overflow pages) is read again whole from f.
func (part *scanPart) scan(f io.ReaderAt, chunk []byte, first, hwm, ps uint64) error {
	count := uint64(len(chunk)) / ps
	part.state = make([]uint32, count)
	part.first = make([]uint32, count+1)
	var long []byte
	for i := range count {
		part.first[i] = uint32(len(part.kids))
		id := first + i
		page := chunk[i*ps:]
		overflow := uint64(native.Uint32(page[12:]))
		switch {
		case native.Uint64(page) != id:
			part.state[i] = scanWrongID
			continue
		case overflow >= hwm-id || overflow >= scanBad:
			part.state[i] = scanTooLong
			continue
		}
		span := (overflow + 1) * ps
		if uint64(len(page)) < span {
			// Only the elements that lie past the chunk need the rest: rare.
			if uint64(cap(long)) < span {
				long = make([]byte, span)
			}
			page = long[:span]
			if _, err := f.ReadAt(page, int64(id*ps)); err != nil {
				return fmt.Errorf("read page %d: %w", id, err)
			}
		} else {
			page = page[:span]
		}
		var ok bool
		part.kids, ok = pageRefs(page, part.kids)
		if !ok {
			part.kids = part.kids[:part.first[i]]
			part.state[i] = scanNoFit
			if flags := native.Uint16(page[8:]); flags != boltBranchPage && flags != boltLeafPage {
				part.state[i] = scanWrongType
			}
			continue
		}
		part.state[i] = uint32(overflow)
	}
	part.first[count] = uint32(len(part.kids))
	return nil
}

// pageRefs appends to kids the pages that page (a page with its overflow pages) refers
// to, and reports whether it is a branch or leaf page whose keys and values all lie in
// it, as bbolt reads them; their order is not checked (bbolt's rebuild does, at a price
// of many seconds). Inline buckets (root 0) have no pages of their own, and bbolt never
// nests a bucket in one.
func pageRefs(page []byte, kids []uint64) ([]uint64, bool) {
	flags, count := native.Uint16(page[8:]), uint64(native.Uint16(page[10:]))
	size := uint64(len(page))
	if boltPageHeader+count*boltElementSize > size {
		return kids, false
	}
	switch flags {
	case boltBranchPage:
		if count == 0 { // bbolt never writes one, and cannot read one
			return kids, false
		}
		for i := range count {
			at := boltPageHeader + i*boltElementSize
			el := page[at : at+boltElementSize]
			if at+uint64(native.Uint32(el))+uint64(native.Uint32(el[4:])) > size {
				return kids, false
			}
			kids = append(kids, native.Uint64(el[8:]))
		}
	case boltLeafPage:
		for i := range count {
			at := boltPageHeader + i*boltElementSize
			el := page[at : at+boltElementSize]
			pos, ksize, vsize := uint64(native.Uint32(el[4:])), uint64(native.Uint32(el[8:])), uint64(native.Uint32(el[12:]))
			v := at + pos + ksize
			if v+vsize > size {
				return kids, false
			}
			if native.Uint32(el)&boltBucketEntry == 0 {
				continue
			}
			if vsize < 16 {
				return kids, false
			}
			if root := native.Uint64(page[v:]); root != 0 {
				kids = append(kids, root)
			}
		}
	default:
		return kids, false
	}
	return kids, true
}
