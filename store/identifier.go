package store

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// ActiveReferencesByIdentifier returns every account's active references of the
// identifier and carrier: one lookup in refs_by_ident per account (accounts are few;
// the index is by account first).
func (db *DB) ActiveReferencesByIdentifier(ctx context.Context, kind references.IdentifierKind, value, carrierCode string) ([]references.Reference, error) {
	var refs []references.Reference
	err := db.view(ctx, func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketRefsByIdent)
		return tx.Bucket(bucketAccounts).ForEach(func(acct, _ []byte) error {
			id := idx.Get(identKey(string(acct), string(kind), value, carrierCode))
			if id == nil {
				return nil
			}
			var ref references.Reference
			if err := getRef(tx, string(acct), string(id), &ref); err != nil {
				return err
			}
			if ref.Active() {
				refs = append(refs, ref)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("references by identifier: %w", err)
	}
	return refs, nil
}
