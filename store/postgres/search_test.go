package postgres

import (
	"context"
	"testing"

	"github.com/trackhook/trackhook/internal/pgtest"
	"github.com/trackhook/trackhook/references"
)

// A filter the indexes cannot answer reads a bounded number of references per call: a
// page may come back empty with a cursor, and the next call goes on from where the
// read stopped, so a reference past the bound is still found.
func TestFilteredListReadsABoundedNumberPerCall(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.NewDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = minRefScan + 50
	// The last reference alone has the metadata the list filters on.
	_, err = db.pool.Exec(ctx, `
		INSERT INTO refs (id, account_id, created_at, updated_at, status, ident_kind, ident_value, carrier_code,
			delivers, delivered_seq, last_seq, data)
		SELECT id, 'acct_big', at, at, 'active', 'container_id', number, 'MSCU', false, 0, 0,
			jsonb_build_object('ID', id, 'AccountID', 'acct_big', 'ContainerID', number, 'CarrierCode', 'MSCU',
				'Status', 'active', 'CreatedAt', at, 'UpdatedAt', at,
				'Metadata', CASE WHEN i = $1 THEN '{"team": "x"}'::jsonb ELSE '{}'::jsonb END)
		FROM generate_series(1, $1) AS i,
			LATERAL (SELECT 'ref_' || lpad(i::text, 8, '0') AS id, 'MSCU' || lpad(i::text, 7, '0') AS number,
				timestamptz '2026-03-01 00:00:00Z' + i * interval '1 second' AS at) AS r`, n)
	if err != nil {
		t.Fatalf("insert references: %v", err)
	}
	q := references.ListQuery{Metadata: map[string]string{"team": "x"}, Limit: 10, Sort: references.SortCreated}
	first, err := db.ListReferences(ctx, "acct_big", q)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.References) != 0 || first.NextCursor == "" {
		t.Fatalf("first page = %d references, cursor %q; want none, with a cursor (the read stops at %d)",
			len(first.References), first.NextCursor, minRefScan)
	}
	q.Cursor = first.NextCursor
	second, err := db.ListReferences(ctx, "acct_big", q)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.References) != 1 || second.References[0].ID != "ref_00010050" || second.NextCursor != "" {
		t.Fatalf("second page = %+v, cursor %q; want ref_00010050 alone, no cursor", second.References, second.NextCursor)
	}
	// Without a filter, the index gives full pages.
	all, err := db.ListReferences(ctx, "acct_big", references.ListQuery{Limit: 10, Sort: references.SortETA})
	if err != nil || len(all.References) != 10 || all.NextCursor == "" {
		t.Fatalf("unfiltered page = %d references, cursor %q, %v; want 10 with a cursor", len(all.References), all.NextCursor, err)
	}
}
