package postgres

import (
	"context"
	"testing"

	"github.com/trackhook/trackhook/internal/pgtest"
)

// TestDump_CoversEveryTable fails when a table is added that `store copy` does not
// know of: Dump must read it, or Load derive it (see the list in dump.go), or a copy
// would lose it, or be listed as not copied with the reason.
func TestDump_CoversEveryTable(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.NewDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	copied := map[string]bool{}
	for _, name := range []string{
		// Read by Dump.
		"accounts", "api_keys", "audit", "audit_counters", "endpoints", "refs", "shipments", "updates",
		"account_counters", "idempotency", "delivery_attempts", "account_events", "account_event_counters",
		"messages", "delivery_streams", "redeliveries", "push_deletions", "store_stats",
		// Derived by Load.
		"ref_numbers",
		// Kept by the triggers of refs, whatever writes it (Load's COPY too).
		"ref_status_counts",
		// Not copied: console sessions end within hours; after a copy, people sign in
		// again.
		"sessions",
		// goose's own.
		"goose_db_version",
	} {
		copied[name] = true
	}
	rows, err := db.pool.Query(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		n++
		if !copied[name] {
			t.Errorf("table %s is not copied by store copy: read it in dump.go or derive it in load.go, and list it here", name)
		}
	}
	if err := rows.Err(); err != nil || n == 0 {
		t.Fatalf("listing the tables: %d, %v", n, err)
	}
}
