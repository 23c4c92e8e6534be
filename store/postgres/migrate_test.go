package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/internal/pgtest"
)

// TestNewerSchemaIsRefusedAndLeftAsItIs plays a database migrated by a newer trackhook
// (one version more than this binary has): Open and Migrate refuse it with
// ErrNewerSchema, the status reads it without an error, and none of them changes the
// schema's record.
func TestNewerSchemaIsRefusedAndLeftAsItIs(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db, err := Open(ctx, url, Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	st, err := MigrationStatus(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending() || st.Current != st.Latest {
		t.Fatalf("after Open: current %d, latest %d; want every migration applied", st.Current, st.Latest)
	}
	newer := st.Latest + 1
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)`, newer); err != nil {
		t.Fatal(err)
	}
	records := func() int {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM goose_db_version`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := records()

	if db, err := Open(ctx, url, Options{MaxConns: 2}); !errors.Is(err, ErrNewerSchema) {
		if err == nil {
			db.Close()
		}
		t.Fatalf("Open of a newer schema: got %v, want ErrNewerSchema", err)
	}
	if applied, err := Migrate(ctx, url); !errors.Is(err, ErrNewerSchema) || len(applied) != 0 {
		t.Fatalf("Migrate of a newer schema: applied %v, got %v, want ErrNewerSchema", applied, err)
	}
	st, err = MigrationStatus(ctx, url)
	if err != nil {
		t.Fatalf("status of a newer schema: %v", err)
	}
	if st.Current != newer || st.Latest != newer-1 {
		t.Fatalf("status of a newer schema: current %d, latest %d; want %d and %d", st.Current, st.Latest, newer, newer-1)
	}
	if after := records(); after != before {
		t.Fatalf("the schema's record went from %d to %d rows: a refusal must change nothing", before, after)
	}
}
