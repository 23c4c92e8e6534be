package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// DefaultBatchBodyLimit caps the body of POST /references/batch: 1,000 items of
// about 1 KiB each with room to spare; a larger batch is split by the client.
const DefaultBatchBodyLimit = 4 << 20

// itemsPerToken is how many items of a batch cost one request of the rate limit.
const itemsPerToken = 100

// batchBody is the JSON body of POST /references/batch.
type batchBody struct {
	References []createBody `json:"references"`
}

// BatchResult is one item's outcome of a batch create, at its index in the batch:
// status 201 with the reference, or the status of its error (409 also names the
// reference that tracks the identifier already).
type BatchResult struct {
	Index       int          `json:"index"`
	Status      int          `json:"status"`
	Reference   *Reference   `json:"reference,omitempty"`
	Error       *errorDetail `json:"error,omitempty"`
	ReferenceID string       `json:"reference_id,omitempty"`
}

// BatchResults is the answer to a batch create: one result per item, in order.
type BatchResults struct {
	Results []BatchResult `json:"results"`
}

// createBatch is POST /references/batch. Each item is what POST /references takes;
// the answer is 200 with one result per item. A batch costs one request of the
// rate limit per itemsPerToken items (the middleware took the first).
func (s *server) createBatch(c echo.Context) error {
	var body batchBody
	if err := decodeJSON(c, &body, false); err != nil {
		return err
	}
	n := len(body.References)
	if n > references.MaxBatchCreate {
		return references.Errorf(codeTooLarge, "a batch holds at most %d references (got %d); split it into several requests", references.MaxBatchCreate, n)
	}
	if s.limiter != nil && n > itemsPerToken {
		// At most the bucket's size in all, or the batch could never pass.
		extra := min((n+itemsPerToken-1)/itemsPerToken, s.limiter.Burst()) - 1
		if d := s.limiter.WaitN(apiKey(c).ID, extra); d > 0 {
			return retryLater(c, d, "too many requests for this API key (a batch counts one request per 100 items)")
		}
	}
	entries := make([]references.BatchEntry, n)
	hashes := make([]string, n)
	for i := range body.References {
		req, err := body.References[i].request()
		var refused *references.Error
		switch {
		case err == nil:
			entries[i].Request, hashes[i] = req, req.RequestHash
		case errors.As(err, &refused):
			entries[i].Err = refused
			raw, _ := json.Marshal(body.References[i]) // strings and raw JSON: cannot fail
			sum := sha256.Sum256(raw)
			hashes[i] = hex.EncodeToString(sum[:])
		default:
			return err
		}
	}
	results, replayed, err := s.svc.CreateBatch(c.Request().Context(), apiKey(c).AccountID, entries,
		c.Request().Header.Get("Idempotency-Key"), references.BatchHash(hashes))
	if err != nil {
		return err
	}
	if replayed {
		c.Response().Header().Set("Idempotent-Replayed", "true")
	}
	out := BatchResults{Results: make([]BatchResult, len(results))}
	for i, r := range results {
		res := BatchResult{Index: i, Status: http.StatusCreated}
		if r.Err != nil {
			e := r.Err
			res.Status = statusFor(e.Code)
			res.Error = &errorDetail{Code: e.Code, Message: e.Message, Field: e.Field, ReferenceID: e.ReferenceID}
			res.ReferenceID = e.ReferenceID
		} else {
			ref := newReference(r.Reference)
			res.Reference = &ref
		}
		out.Results[i] = res
	}
	return c.JSON(http.StatusOK, out)
}

// notBatch answers the methods POST /references/batch lacks with 405, as on any
// other path: the router would otherwise take "batch" for a reference id (404).
func notBatch(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Param("id") == "batch" {
			c.Response().Header().Set(echo.HeaderAllow, "OPTIONS, POST")
			return echo.ErrMethodNotAllowed
		}
		return next(c)
	}
}
