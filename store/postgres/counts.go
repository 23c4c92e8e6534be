package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// CountReferences returns how many references the account has in each status, from
// the counts the triggers of refs keep (see migration 00005): one index range of a
// few rows, whatever the account's size.
func (db *DB) CountReferences(ctx context.Context, accountID string) (map[references.Status]int, error) {
	rows, err := db.pool.Query(ctx, "SELECT status, n FROM ref_status_counts WHERE account_id = $1 AND n > 0", accountID)
	if err != nil {
		return nil, fmt.Errorf("postgres: count references: %w", err)
	}
	counts := map[references.Status]int{}
	var status string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		counts[references.Status(status)] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: count references: %w", err)
	}
	return counts, nil
}
