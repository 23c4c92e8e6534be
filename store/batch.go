package store

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/trackhook/trackhook/references"
)

// CreateReferences stores a batch of references in one transaction: 1,000 items
// commit in about a tenth of a second on bbolt (BENCHMARKS.md, "Issue 13: bulk
// create"), so splitting the batch would only add fsyncs and let a crash keep half.
// See references.ReferenceStore for the rules.
func (db *DB) CreateReferences(ctx context.Context, accountID string, items []references.BatchItem, opts references.CreateOptions) ([]references.CreateResult, bool, error) {
	idem := opts.Idempotency
	var results []references.CreateResult
	replayed := false
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if idem != nil {
			rec, found, err := getIdempotency(tx, accountID, idem.Key, db.clock.Now())
			if err != nil {
				return err
			}
			if found {
				if rec.Batch == nil || !idem.Matches(rec.RequestHash) {
					return references.Errorf(references.CodeIdempotencyMismatch, "Idempotency-Key %q was already used with a different request", idem.Key)
				}
				results, err = replayBatch(tx, accountID, rec.Batch)
				if !errors.Is(err, references.ErrNotFound) {
					replayed = err == nil
					return err
				}
				// Retention deleted a reference the key made: the key is free again.
			}
		}
		results = make([]references.CreateResult, len(items))
		outcomes := make([]batchOutcome, len(items))
		for i, item := range items {
			if item.Err == nil {
				ref := item.Reference
				ref.AccountID = accountID // a batch creates in the caller's account only
				err := db.insertRef(tx, &ref, opts.MaxActive)
				var refused *references.Error
				switch {
				case err == nil:
					results[i].Reference = ref
					outcomes[i].ReferenceID = ref.ID
					continue
				case errors.As(err, &refused):
					item.Err = refused
				default:
					return fmt.Errorf("item %d: %w", i, err)
				}
			}
			results[i].Err = item.Err
			outcomes[i] = batchOutcome{Code: item.Err.Code, Field: item.Err.Field, Message: item.Err.Message, ConflictID: item.Err.ReferenceID}
		}
		if idem == nil {
			return nil
		}
		rec := idempotencyRecord{RequestHash: idem.RequestHash, ExpiresAt: idem.ExpiresAt, Batch: outcomes}
		return putIdempotency(tx, accountID, idem, &rec)
	})
	if err != nil {
		return nil, false, fmt.Errorf("create %d references: %w", len(items), err)
	}
	if replayed {
		for i := range results {
			if results[i].Err == nil {
				db.withSchedule(&results[i].Reference)
			}
		}
	}
	return results, replayed, nil
}

// replayBatch reads the results of a batch created earlier: its references as they
// are now, and its refusals as they were. ErrNotFound when one of its references is
// gone.
func replayBatch(tx *bolt.Tx, accountID string, outcomes []batchOutcome) ([]references.CreateResult, error) {
	results := make([]references.CreateResult, len(outcomes))
	for i, o := range outcomes {
		if o.ReferenceID != "" {
			if err := getRef(tx, accountID, o.ReferenceID, &results[i].Reference); err != nil {
				return nil, err
			}
			continue
		}
		results[i].Err = &references.Error{Code: o.Code, Field: o.Field, Message: o.Message, ReferenceID: o.ConflictID}
	}
	return results, nil
}
