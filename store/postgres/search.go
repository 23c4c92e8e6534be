package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trackhook/trackhook/references"
)

// ListReferences: one statement per page, keyset-paged. The creation order walks
// refs_by_account (account_id, created_at, id), the ETA order refs_by_eta (account_id,
// eta, created_at, id), whose NULL ETAs sort last, in creation order, as the contract
// wants. An identifier filter is looked up in refs_by_identifier (the reference's own
// identifier, whatever its status) and ref_numbers (the latest snapshot's
// containers), exactly or as a prefix with the pattern operators that
// text_pattern_ops indexes answer. Each reference comes with the summary of its
// latest snapshot, kept in its row (see summary.go), so a page reads no snapshot.

// Cursors: "c" or "e" (the sort), then the position of the last reference returned:
// for "c", created_at (Unix microseconds) and id; for "e", the ETA (Unix microseconds,
// or "-" for none), created_at and id. Fields are separated by spaces, base64url
// encoded.

// listPosition is a reference's place in a list's order.
type listPosition struct {
	eta     *time.Time
	created time.Time
	id      string
}

func encodeListCursor(sort references.ListSort, p listPosition) string {
	var b strings.Builder
	if sort == references.SortETA {
		b.WriteString("e ")
		if p.eta != nil {
			b.WriteString(strconv.FormatInt(p.eta.UnixMicro(), 10))
		} else {
			b.WriteString("-")
		}
		b.WriteString(" ")
	} else {
		b.WriteString("c ")
	}
	b.WriteString(strconv.FormatInt(p.created.UnixMicro(), 10))
	b.WriteString(" ")
	b.WriteString(p.id)
	return base64.RawURLEncoding.EncodeToString([]byte(b.String()))
}

// decodeListCursor returns the position q.Cursor names (nil for none), or ErrInvalid
// on field "cursor" for one of another sort order or not made here.
func decodeListCursor(q references.ListQuery) (*listPosition, error) {
	if q.Cursor == "" {
		return nil, nil
	}
	invalid := references.Invalidf("cursor", "is not a cursor this server returned")
	raw, err := base64.RawURLEncoding.DecodeString(q.Cursor)
	if err != nil {
		return nil, invalid
	}
	f := strings.Split(string(raw), " ")
	want := "c"
	if q.Sort == references.SortETA {
		want = "e"
	}
	if len(f) > 0 && (f[0] == "c" || f[0] == "e") && f[0] != want {
		return nil, references.Invalidf("cursor", "belongs to another sort order: keep the sort of the request that returned it")
	}
	var p listPosition
	if want == "e" {
		if len(f) != 4 {
			return nil, invalid
		}
		if f[1] != "-" {
			us, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return nil, invalid
			}
			eta := time.UnixMicro(us).UTC()
			p.eta = &eta
		}
		f = f[1:]
	}
	if len(f) != 3 || f[2] == "" {
		return nil, invalid
	}
	us, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return nil, invalid
	}
	p.created, p.id = time.UnixMicro(us).UTC(), f[2]
	return &p, nil
}

// listStatement builds a ListReferences statement: conditions joined by AND, with
// their arguments numbered in order.
type listStatement struct {
	where []string
	args  []any
}

// arg adds v and returns its placeholder.
func (s *listStatement) arg(v any) string {
	s.args = append(s.args, v)
	return "$" + strconv.Itoa(len(s.args))
}

func (s *listStatement) cond(c string) { s.where = append(s.where, c) }

// Bounds on the references one filtered list reads, as bbolt's, so that a request
// costs about the same whatever the account's size: a filter the indexes cannot answer
// (status, carrier, metadata, updated since, has callback, failing, late, an ETA bound
// in creation order) reads at most max(minRefScan, refScanPerItem×limit) references in
// the order asked, and returns a cursor to go on from there, with a short (even empty)
// page.
const (
	minRefScan     = 10_000
	refScanPerItem = 20
)

// ListReferences returns a page of the account's references that pass q's filters, in
// creation order or by ETA (see references.ReferenceStore).
func (db *DB) ListReferences(ctx context.Context, accountID string, q references.ListQuery) (references.ReferencePage, error) {
	after, err := decodeListCursor(q)
	if err != nil {
		return references.ReferencePage{}, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = references.DefaultPageSize
	}
	byETA := q.Sort == references.SortETA
	// scan: what the indexes answer (the account, the cursor, the identifier, an ETA
	// range in ETA order); filters: what is checked on each reference read.
	scan := &listStatement{}
	acct := scan.arg(accountID)
	scan.cond("account_id = " + acct)
	var filters []string
	if q.Status != "" {
		filters = append(filters, "status = "+scan.arg(string(q.Status)))
	}
	if q.CarrierCode != "" {
		filters = append(filters, "carrier_code = "+scan.arg(q.CarrierCode))
	}
	if q.UpdatedSince != nil {
		filters = append(filters, "updated_at >= "+scan.arg(*q.UpdatedSince))
	}
	if len(q.Metadata) > 0 {
		m, err := json.Marshal(q.Metadata)
		if err != nil {
			return references.ReferencePage{}, fmt.Errorf("postgres: list references: %w", err)
		}
		filters = append(filters, "data->'Metadata' @> "+scan.arg(string(m))+"::jsonb")
	}
	if q.HasCallback != nil {
		filters = append(filters, "(coalesce(data->>'CallbackURL', '') <> '') = "+scan.arg(*q.HasCallback))
	}
	if q.Failing {
		// Reference.Failing.
		filters = append(filters, "(coalesce(data->>'LastPollError', '') <> '' OR data->>'DeliveryState' = "+
			scan.arg(string(references.DeliveryFailing))+")")
	}
	if q.LateAt != nil {
		// ShipmentSummary.Late: the ETA moved more than LateAfter past the first, or
		// passed without arrival; never without an ETA.
		filters = append(filters, fmt.Sprintf("coalesce(eta > first_eta + %s::interval OR eta < %s AND NOT arrived, false)",
			scan.arg(references.LateAfter), scan.arg(*q.LateAt)))
	}
	for _, b := range []struct {
		bound *time.Time
		op    string
	}{{q.ETABefore, "<"}, {q.ETAAfter, ">"}} {
		if b.bound == nil {
			continue
		}
		c := "eta " + b.op + " " + scan.arg(*b.bound)
		if byETA {
			scan.cond(c)
		} else {
			filters = append(filters, c)
		}
	}
	if q.Identifier != "" {
		// The reference's own identifier, or a container of its latest snapshot.
		value, prefix := q.IdentifierPrefix()
		v := scan.arg(value)
		match := func(col string) string { return col + " = " + v }
		if prefix {
			end := scan.arg(prefixEnd(value))
			match = func(col string) string { return fmt.Sprintf("%s ~>=~ %s AND %s ~<~ %s", col, v, col, end) }
		}
		scan.cond(fmt.Sprintf(`id IN (SELECT id FROM refs WHERE account_id = %s AND %s
			UNION ALL SELECT ref_id FROM ref_numbers WHERE account_id = %s AND %s)`,
			acct, match("ident_value"), acct, match("number")))
	}
	// Only references with an ETA can pass an ETA bound, or be late.
	dated := q.FiltersETA() || q.LateAt != nil
	budget := max(minRefScan, refScanPerItem*limit)
	if q.Identifier != "" || len(filters) == 0 {
		// The indexes find the references: no bound needed.
		src := orderedSource(scan, append(scan.where, filters...), "eta, created_at, id, data, summary", byETA, dated, after, limit+1)
		sql := "SELECT true, eta, created_at, id, data, summary, 0 FROM (" + src + ") s"
		return db.listPage(ctx, q.Sort, limit, sql, scan.args, budget)
	}
	reverse := "created_at DESC, id DESC"
	if byETA {
		reverse = "eta DESC, created_at DESC, id DESC" // NULLs first: the reverse of the order
	}
	src := orderedSource(scan, scan.where, "id, eta, created_at, ("+strings.Join(filters, " AND ")+") AS ok",
		byETA, dated, after, budget)
	// The references read (at most budget), those of them that pass, and the last one
	// read, where the next page starts when the read stopped at its bound.
	sql := fmt.Sprintf(`WITH scan AS (%s),
			hits AS (SELECT id, eta, created_at FROM scan WHERE ok LIMIT %s),
			last AS (SELECT id, eta, created_at FROM scan ORDER BY %s LIMIT 1)
		SELECT true, h.eta, h.created_at, h.id, r.data, r.summary, 0 FROM hits h JOIN refs r ON r.id = h.id
		UNION ALL
		SELECT false, eta, created_at, id, NULL, NULL, (SELECT count(*) FROM scan) FROM last`,
		src, scan.arg(limit+1), reverse)
	return db.listPage(ctx, q.Sort, limit, sql, scan.args, budget)
}

// orderedSource returns a statement of s reading cols of at most n references that
// pass where, after the cursor's position, in the order of the list. By ETA, the
// dated come first, in ETA order from refs_by_eta, then (unless only the dated can
// pass: datedOnly) the undated in creation order from refs_undated: two index scans
// that each stop early, where one ordering NULLs last would filter rather than seek.
func orderedSource(s *listStatement, where []string, cols string, byETA, datedOnly bool, after *listPosition, n int) string {
	limit := s.arg(n)
	branch := func(extra []string, order string) string {
		w := append(slices.Clip(where), extra...)
		return fmt.Sprintf("SELECT %s FROM refs WHERE %s ORDER BY %s LIMIT %s", cols, strings.Join(w, " AND "), order, limit)
	}
	if !byETA {
		var keyset []string
		if after != nil {
			keyset = append(keyset, fmt.Sprintf("(created_at, id) > (%s, %s)", s.arg(after.created), s.arg(after.id)))
		}
		return branch(keyset, "created_at, id")
	}
	var parts []string
	if after == nil || after.eta != nil {
		dated := []string{"eta IS NOT NULL"}
		if after != nil {
			dated = append(dated, fmt.Sprintf("(eta, created_at, id) > (%s, %s, %s)", s.arg(*after.eta), s.arg(after.created), s.arg(after.id)))
		}
		parts = append(parts, "("+branch(dated, "eta, created_at, id")+")")
	}
	if !datedOnly {
		undated := []string{"eta IS NULL"}
		if after != nil && after.eta == nil {
			undated = append(undated, fmt.Sprintf("(created_at, id) > (%s, %s)", s.arg(after.created), s.arg(after.id)))
		}
		parts = append(parts, "("+branch(undated, "created_at, id")+")")
	}
	if len(parts) == 0 {
		return branch([]string{"false"}, "created_at, id") // an undated position, and only the dated pass
	}
	return fmt.Sprintf("SELECT * FROM (%s) u ORDER BY eta, created_at, id LIMIT %s", strings.Join(parts, " UNION ALL "), limit)
}

// listPage runs a ListReferences statement, whose rows are the references that pass
// (hit true, in any order) and, for a bounded read, the position of the last reference
// read with how many were read, and makes the page of them.
func (db *DB) listPage(ctx context.Context, sort references.ListSort, limit int, sql string, args []any, budget int) (references.ReferencePage, error) {
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return references.ReferencePage{}, fmt.Errorf("postgres: list references: %w", err)
	}
	defer rows.Close()
	type hit struct {
		pos listPosition
		ref references.Reference
		sum *references.ShipmentSummary
	}
	var hits []hit
	var last *listPosition
	var scanned int64
	for rows.Next() {
		var isHit bool
		var p listPosition
		var data, summary []byte
		var n int64
		if err := rows.Scan(&isHit, &p.eta, &p.created, &p.id, &data, &summary, &n); err != nil {
			return references.ReferencePage{}, fmt.Errorf("postgres: list references: %w", err)
		}
		if !isHit {
			last, scanned = &p, n
			continue
		}
		ref, err := decodeReference(data)
		if err != nil {
			return references.ReferencePage{}, err
		}
		sum, err := decodeSummary(summary)
		if err != nil {
			return references.ReferencePage{}, err
		}
		hits = append(hits, hit{p, ref, sum})
	}
	if err := rows.Err(); err != nil {
		return references.ReferencePage{}, fmt.Errorf("postgres: list references: %w", err)
	}
	slices.SortFunc(hits, func(a, b hit) int { return comparePositions(sort, a.pos, b.pos) })
	page := references.ReferencePage{References: []references.Reference{}, Summaries: map[string]references.ShipmentSummary{}}
	for i, h := range hits {
		if i == limit {
			page.NextCursor = encodeListCursor(sort, hits[i-1].pos) // at least one more
			return page, nil
		}
		page.References = append(page.References, h.ref)
		if h.sum != nil {
			page.Summaries[h.ref.ID] = *h.sum
		}
	}
	if last != nil && scanned >= int64(budget) {
		page.NextCursor = encodeListCursor(sort, *last) // the read stopped at its bound
	}
	return page, nil
}

// comparePositions orders two positions as the list of sort does.
func comparePositions(sort references.ListSort, a, b listPosition) int {
	if sort == references.SortETA {
		switch {
		case a.eta != nil && b.eta == nil:
			return -1
		case a.eta == nil && b.eta != nil:
			return 1
		case a.eta != nil:
			if c := a.eta.Compare(*b.eta); c != 0 {
				return c
			}
		}
	}
	if c := a.created.Compare(b.created); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

// prefixEnd is the least string above every string that starts with prefix (which is
// A-Z and 0-9, see ListQuery.Normalize): its last byte moved on by one.
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	b[len(b)-1]++
	return string(b)
}
