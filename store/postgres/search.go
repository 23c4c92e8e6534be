package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
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
// text_pattern_ops indexes answer.

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
	s := &listStatement{}
	acct := s.arg(accountID)
	s.cond("account_id = " + acct)
	if q.Status != "" {
		s.cond("status = " + s.arg(string(q.Status)))
	}
	if q.CarrierCode != "" {
		s.cond("carrier_code = " + s.arg(q.CarrierCode))
	}
	if q.UpdatedSince != nil {
		s.cond("updated_at >= " + s.arg(*q.UpdatedSince))
	}
	if len(q.Metadata) > 0 {
		m, err := json.Marshal(q.Metadata)
		if err != nil {
			return references.ReferencePage{}, fmt.Errorf("postgres: list references: %w", err)
		}
		s.cond("data->'Metadata' @> " + s.arg(string(m)) + "::jsonb")
	}
	if q.ETABefore != nil {
		s.cond("eta < " + s.arg(*q.ETABefore))
	}
	if q.ETAAfter != nil {
		s.cond("eta > " + s.arg(*q.ETAAfter))
	}
	if q.Identifier != "" {
		value, prefix := q.IdentifierPrefix()
		if prefix {
			lo, hi := s.arg(value), s.arg(prefixEnd(value))
			s.cond(fmt.Sprintf(`(ident_value ~>=~ %[1]s AND ident_value ~<~ %[2]s OR id IN (SELECT ref_id FROM ref_numbers
				WHERE account_id = %[3]s AND number ~>=~ %[1]s AND number ~<~ %[2]s))`, lo, hi, acct))
		} else {
			v := s.arg(value)
			s.cond(fmt.Sprintf(`(ident_value = %[1]s OR id IN (SELECT ref_id FROM ref_numbers
				WHERE account_id = %[2]s AND number = %[1]s))`, v, acct))
		}
	}
	order := "created_at, id"
	if q.Sort == references.SortETA {
		order = "eta, created_at, id" // NULLs last: the undated in creation order
	}
	if after != nil {
		created, id := s.arg(after.created), s.arg(after.id)
		switch {
		case q.Sort != references.SortETA:
			s.cond(fmt.Sprintf("(created_at, id) > (%s, %s)", created, id))
		case after.eta != nil:
			s.cond(fmt.Sprintf("((eta, created_at, id) > (%s, %s, %s) OR eta IS NULL)", s.arg(*after.eta), created, id))
		default:
			s.cond(fmt.Sprintf("eta IS NULL AND (created_at, id) > (%s, %s)", created, id))
		}
	}
	sql := fmt.Sprintf("SELECT eta, created_at, data FROM refs WHERE %s ORDER BY %s LIMIT %s",
		strings.Join(s.where, " AND "), order, s.arg(limit+1))
	rows, err := db.pool.Query(ctx, sql, s.args...)
	if err != nil {
		return references.ReferencePage{}, fmt.Errorf("postgres: list references: %w", err)
	}
	defer rows.Close()
	page := references.ReferencePage{References: []references.Reference{}}
	var last listPosition
	for rows.Next() {
		var p listPosition
		var data []byte
		if err := rows.Scan(&p.eta, &p.created, &data); err != nil {
			return references.ReferencePage{}, fmt.Errorf("postgres: list references: %w", err)
		}
		if len(page.References) == limit {
			page.NextCursor = encodeListCursor(q.Sort, last) // at least one more
			break
		}
		ref, err := decodeReference(data)
		if err != nil {
			return references.ReferencePage{}, err
		}
		p.id = ref.ID
		page.References = append(page.References, ref)
		last = p
	}
	if err := rows.Err(); err != nil {
		return references.ReferencePage{}, fmt.Errorf("postgres: list references: %w", err)
	}
	return page, nil
}

// prefixEnd is the least string above every string that starts with prefix (which is
// A-Z and 0-9, see ListQuery.Normalize): its last byte moved on by one.
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	b[len(b)-1]++
	return string(b)
}
