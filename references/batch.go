package references

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// MaxBatchCreate bounds the items of one batch create.
const MaxBatchCreate = 1000

// BatchItem is one item of a batch create as the backend gets it: the reference to
// create, or Err when the service refused the item already. Refused items go to the
// backend too, so that an Idempotency-Key replays the whole batch's results.
type BatchItem struct {
	Reference Reference
	Err       *Error
}

// CreateResult is the outcome of one item of a batch create: the stored reference,
// or the error it was refused with (CodeInvalid, CodeConflict with ReferenceID,
// CodeQuotaExceeded).
type CreateResult struct {
	Reference Reference
	Err       *Error
}

// BatchEntry is one item of a batch create as the client sent it: the request, or
// Err when the layer that read it could not make one of it (a value it could not
// parse), so that the item is refused in its place in the results.
type BatchEntry struct {
	Request CreateRequest
	Err     *Error
}

// CreateBatch validates every request and creates the valid ones in the account, in
// order, as one write: results[i] is the outcome of entries[i]. An item whose identifier
// an earlier item of the batch took is a conflict naming that item's reference; the
// account's quota may refuse the items past it. With an idempotency key, a retried
// batch returns the first one's results (replayed is true) and hash identifies the
// batch (see BatchHash). A callback check that could not be made now fails the whole
// batch with CodeUnavailable, nothing stored, so the client retries it as it is.
func (s *Service) CreateBatch(ctx context.Context, accountID string, entries []BatchEntry, idempotencyKey, hash string) (results []CreateResult, replayed bool, err error) {
	if len(entries) == 0 {
		return nil, false, Invalidf("references", "give at least one reference to create")
	}
	if len(entries) > MaxBatchCreate {
		return nil, false, Invalidf("references", "a batch holds at most %d references (got %d); split it", MaxBatchCreate, len(entries))
	}
	now := s.opts.Now().UTC()
	idem, err := s.idempotency(idempotencyKey, hash, "", now)
	if err != nil {
		return nil, false, err
	}
	// Items often share a callback URL: its host is checked once per batch.
	checked := map[string]error{}
	check := func(ctx context.Context, raw string) error {
		if err, ok := checked[raw]; ok {
			return err
		}
		err := s.checkCallback(ctx, raw)
		checked[raw] = err
		return err
	}
	items := make([]BatchItem, len(entries))
	for i, entry := range entries {
		if entry.Err != nil {
			items[i].Err = entry.Err
			continue
		}
		ref, err := s.validate(ctx, entry.Request, check)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				return nil, false, fmt.Errorf("batch item %d: %w", i, err)
			}
			if e.Code == CodeUnavailable {
				return nil, false, &Error{Code: e.Code, Field: fmt.Sprintf("references[%d].%s", i, e.Field), Message: e.Message}
			}
			items[i].Err = e
			continue
		}
		s.prepare(&ref, accountID, now)
		items[i].Reference = ref
	}
	return s.store.CreateReferences(ctx, accountID, items, CreateOptions{Idempotency: idem, MaxActive: s.opts.MaxActivePerAccount})
}

// BatchHash identifies a batch by the request hashes of its items, in order, for
// an Idempotency-Key on a batch create.
func BatchHash(itemHashes []string) string {
	h := sha256.New()
	h.Write([]byte("batch\n")) // never the hash of a single create
	for _, ih := range itemHashes {
		h.Write([]byte(ih + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}
