package postgres

import (
	"context"
	"fmt"
)

// Connections counts the connections to this database, other than the pool's own,
// whose application_name is name: `trackhook store copy` asks for those of
// "trackhook serve" (see Options.ApplicationName) to tell whether a service is running.
func (db *DB) Connections(ctx context.Context, name string) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()`, name).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: count the connections of %q: %w", name, err)
	}
	return n, nil
}
