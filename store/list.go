package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// Bounds on the references one filtered list reads, so that a request costs about the
// same whatever the account's size: it stops after max(minRefScan, refScanPerItem×limit)
// index keys and returns a cursor to go on from there, with a short (even empty) page.
const (
	minRefScan     = 10_000
	refScanPerItem = 20
)

// Positions of the ETA order in a cursor: after the etaCursor byte, phase etaPhaseDated
// and a refs_by_eta key (without its account), or phase etaPhaseUndated and a
// refs_by_account key (without its account). A cursor of the creation order is a
// refs_by_account key alone, whose first byte (of a time in nanoseconds) is never 0xFF
// before the year 2500.
const (
	etaCursor       = 0xFF
	etaPhaseDated   = '1'
	etaPhaseUndated = '2'
)

// ListReferences returns a page of the account's references that pass q's filters
// (see references.ListQuery.Matches), in creation order or by ETA, with the summary
// of each one's latest snapshot (from its search facts). An exact identifier
// is looked up in the indexes; other filters are applied to the account's references
// read in the order asked, at most minRefScan of them per call (see refScanPerItem).
// The cursor is the position of the last reference returned, or of the last one read
// when the read stopped at its bound.
func (db *DB) ListReferences(ctx context.Context, accountID string, q references.ListQuery) (references.ReferencePage, error) {
	after, err := decodeListCursor(q)
	if err != nil {
		return references.ReferencePage{}, err
	}
	l := &lister{db: db, accountID: accountID, q: q, after: after, budget: max(minRefScan, refScanPerItem*q.Limit),
		page: references.ReferencePage{References: []references.Reference{}}}
	err = db.view(ctx, func(tx *bolt.Tx) error {
		l.tx, l.refs, l.facts = tx, tx.Bucket(bucketRefs), tx.Bucket(bucketRefFacts)
		if v, prefix := q.IdentifierPrefix(); q.Identifier != "" && !prefix {
			return l.exact(v)
		}
		acct := str(accountID)
		if q.Sort != references.SortETA {
			_, err := l.scan(bucketRefsByAcct, acct, nil, func(k []byte) []byte { return k[8:] })
			return err
		}
		if len(after) == 0 || after[1] == etaPhaseDated {
			done, err := l.scan(bucketRefsByETA, acct, []byte{etaCursor, etaPhaseDated}, func(k []byte) []byte { return k[16:] })
			if err != nil || done || q.FiltersETA() {
				return err // with an ETA bound, the undated never match
			}
		}
		_, err := l.scan(bucketRefsByAcct, acct, []byte{etaCursor, etaPhaseUndated}, func(k []byte) []byte { return k[8:] })
		return err
	})
	if err != nil {
		return references.ReferencePage{}, fmt.Errorf("list references: %w", err)
	}
	return l.page, nil
}

// decodeListCursor returns the position q.Cursor names, nil for none.
func decodeListCursor(q references.ListQuery) ([]byte, error) {
	if q.Cursor == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
	eta := len(raw) > 0 && raw[0] == etaCursor
	switch {
	case err != nil || len(raw) < 9:
	case eta != (q.Sort == references.SortETA):
		return nil, references.Invalidf("cursor", "belongs to another sort order: keep the sort of the request that returned it")
	case !eta || raw[1] == etaPhaseDated && len(raw) >= 18 || raw[1] == etaPhaseUndated && len(raw) >= 10:
		return raw, nil
	}
	return nil, references.Invalidf("cursor", "is not a cursor this server returned")
}

// lister builds one page of ListReferences.
type lister struct {
	db        *DB
	tx        *bolt.Tx
	refs      *bolt.Bucket // tx's, looked up once for the many reads of a list
	facts     *bolt.Bucket
	accountID string
	q         references.ListQuery
	after     []byte // the cursor's position
	budget    int
	page      references.ReferencePage
	last      []byte // position of the last reference returned
}

// load reads a reference's search facts and, unless they fail the filters already,
// the reference, and reports whether it passes the filters, which see the summary of
// its latest snapshot. The reference is not read when ok is false.
func (l *lister) load(id string) (ref references.Reference, f searchFacts, ok bool, err error) {
	if f, err = readFactsIn(l.facts, id); err != nil {
		return ref, f, false, err
	}
	if !l.factsMatch(&f) {
		return ref, f, false, nil
	}
	if err := getRefIn(l.refs, l.accountID, id, &ref); err != nil {
		return ref, f, false, err
	}
	return ref, f, l.q.Matches(&ref, f.summary(), f.Containers), nil
}

// factsMatch applies the filters that a reference's facts decide alone, those of
// references.ListQuery.Matches on the ETA and lateness, so that a list filtered on
// them decodes only the references that pass: a page of late shipments in an account
// where few are late reads 10,000 facts, not 10,000 references (see
// BenchmarkShipmentsPage).
func (l *lister) factsMatch(f *searchFacts) bool {
	if l.q.LateAt != nil && (!f.Found || !f.Summary.Late(*l.q.LateAt)) {
		return false
	}
	return l.q.MatchesETA(f.Summary.ETA)
}

// add puts ref, which passed the filters, on the page with its summary.
func (l *lister) add(ref *references.Reference, f *searchFacts) {
	l.db.withSchedule(ref)
	l.page.References = append(l.page.References, *ref)
	if f.Found {
		if l.page.Summaries == nil {
			l.page.Summaries = map[string]references.ShipmentSummary{}
		}
		l.page.Summaries[ref.ID] = f.Summary
	}
}

// scan walks bucket's keys under prefix from after the cursor's position, adding the
// references that match. A key's position is tag followed by the key's part after
// prefix; refID gives the id at the end of that part. done is true when the page is
// complete (full, or the read bound reached), false when the keys ran out.
func (l *lister) scan(bucket, prefix, tag []byte, refID func(k []byte) []byte) (done bool, err error) {
	c := l.tx.Bucket(bucket).Cursor()
	start := prefix
	if len(l.after) > 0 && bytes.HasPrefix(l.after, tag) {
		start = join(prefix, l.after[len(tag):])
	} else if len(tag) > 1 && tag[1] == etaPhaseDated && l.q.ETAAfter != nil {
		start = join(prefix, timeKey(*l.q.ETAAfter)) // the dated are in ETA order
	}
	k, _ := c.Seek(start)
	if len(l.after) > 0 && bytes.Equal(k, start) {
		k, _ = c.Next() // the cursor names one already returned
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		rest := k[len(prefix):]
		pos := join(tag, rest)
		if len(tag) > 1 && tag[1] == etaPhaseDated && l.q.ETABefore != nil && !keyTime(rest).Before(*l.q.ETABefore) {
			return true, nil // the dated are in ETA order: none further is before the bound
		}
		ref, f, ok, err := l.load(string(refID(rest)))
		if err != nil {
			return true, err
		}
		if ok && len(tag) > 1 && tag[1] == etaPhaseUndated && f.Summary.ETA != nil {
			ok = false // listed among the dated
		}
		if ok {
			if len(l.page.References) == l.q.Limit {
				// There is at least one more: go on after the last one returned.
				l.page.NextCursor = base64.RawURLEncoding.EncodeToString(l.last)
				return true, nil
			}
			l.add(&ref, &f)
			l.last = pos
		}
		if l.budget--; l.budget == 0 {
			l.page.NextCursor = base64.RawURLEncoding.EncodeToString(pos)
			return true, nil
		}
	}
	return false, nil
}

// exact lists the references whose identifier, or a container of whose latest
// snapshot, is value: active ones from refs_by_ident, the rest from refs_by_number.
func (l *lister) exact(value string) error {
	ids := map[string]bool{}
	acct := str(l.accountID)
	for _, kind := range []references.IdentifierKind{references.KindContainer, references.KindBillOfLading, references.KindBooking} {
		prefix := join(acct, str(string(kind)), str(value))
		c := l.tx.Bucket(bucketRefsByIdent).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			ids[string(v)] = true
		}
	}
	prefix := join(acct, str(value))
	c := l.tx.Bucket(bucketRefsByNumbr).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids[string(k[len(prefix):])] = true
	}
	type found struct {
		pos   []byte
		ref   references.Reference
		facts searchFacts
	}
	var all []found
	for id := range ids {
		ref, f, ok, err := l.load(id)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		pos := join(timeKey(ref.CreatedAt), []byte(ref.ID))
		if l.q.Sort == references.SortETA {
			if f.Summary.ETA != nil {
				pos = join([]byte{etaCursor, etaPhaseDated}, timeKey(*f.Summary.ETA), pos)
			} else {
				pos = join([]byte{etaCursor, etaPhaseUndated}, pos)
			}
		}
		if bytes.Compare(pos, l.after) > 0 {
			all = append(all, found{pos, ref, f})
		}
	}
	slices.SortFunc(all, func(a, b found) int { return bytes.Compare(a.pos, b.pos) })
	for i, fd := range all {
		if i == l.q.Limit {
			l.page.NextCursor = base64.RawURLEncoding.EncodeToString(all[i-1].pos)
			break
		}
		l.add(&fd.ref, &fd.facts)
	}
	return nil
}
