package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/trackhook/trackhook/references"
)

// CountReferences returns how many references the account has in each status. It
// counts the account's rows (an index range of refs_by_account): a count per status
// kept in the transactions that change statuses would be one more hot row for every
// create, pause and unsubscribe, for a read the console makes once a page.
func (db *DB) CountReferences(ctx context.Context, accountID string) (map[references.Status]int, error) {
	rows, err := db.pool.Query(ctx, "SELECT status, count(*) FROM refs WHERE account_id = $1 GROUP BY status", accountID)
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
