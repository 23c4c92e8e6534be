package postgres

import (
	"context"
	"fmt"

	"github.com/trackhook/trackhook/references"
)

// ActiveReferencesByIdentifier returns every account's active references of the
// identifier and carrier (index refs_active_by_identifier, migration 00008).
func (db *DB) ActiveReferencesByIdentifier(ctx context.Context, kind references.IdentifierKind, value, carrierCode string) ([]references.Reference, error) {
	rows, err := db.pool.Query(ctx, `SELECT data FROM refs
		WHERE ident_value = $1 AND carrier_code = $2 AND status = 'active' AND ident_kind = $3
		ORDER BY id`, value, carrierCode, string(kind))
	if err != nil {
		return nil, fmt.Errorf("postgres: references by identifier: %w", err)
	}
	defer rows.Close()
	var refs []references.Reference
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("postgres: references by identifier: %w", err)
		}
		ref, err := decodeReference(data)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: references by identifier: %w", err)
	}
	return refs, nil
}
