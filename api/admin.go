package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// backup is GET /admin/backup: it streams a consistent copy of the database as a file
// download. Once bytes have gone out the status cannot change, so a failure midway
// cuts the connection: the client sees a broken transfer, never a truncated file that
// looks complete.
func (s *server) backup(c echo.Context) error {
	name := "trackhook-" + s.now().UTC().Format("20060102T150405Z") + ".db"
	res := c.Response()
	noStore(c)
	res.Header().Set(echo.HeaderContentType, echo.MIMEOctetStream)
	res.Header().Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", name))
	n, err := s.opts.Backup.Backup(c.Request().Context(), res)
	if err == nil {
		if !res.Committed {
			res.WriteHeader(http.StatusOK) // an empty copy still is a 200
		}
		return nil
	}
	if !res.Committed {
		// The error handler writes JSON, and echo keeps a Content-Type already set.
		res.Header().Del(echo.HeaderContentType)
		res.Header().Del(echo.HeaderContentDisposition)
		if errors.Is(err, errors.ErrUnsupported) {
			// A store that is a database server's (PostgreSQL) is backed up with that
			// server's tools, which do it consistently and far faster than a stream
			// through this API could.
			return &references.Error{Code: codeNotImplemented, Message: backupUnsupported}
		}
		return fmt.Errorf("backup: %w", err)
	}
	s.log.ErrorContext(c.Request().Context(), "backup failed after it started streaming",
		slog.String("request_id", requestID(c)), slog.Int64("bytes", n), slog.Any("err", err))
	panic(http.ErrAbortHandler)
}

// backupUnsupported is the message of a backup the store cannot make.
const backupUnsupported = "this server keeps its data in PostgreSQL, which /admin/backup cannot copy: " +
	"use pg_dump on its database (pg_dump --format=custom --file trackhook.dump postgres://...), or your provider's backups"

// StatusReporter reads what GET /admin/status answers. store.DB implements it.
type StatusReporter interface {
	Stats(ctx context.Context) (references.Stats, error)
	// OldestUndelivered returns the oldest update waiting for delivery, or nil.
	OldestUndelivered(ctx context.Context) (*references.Update, error)
}

// ReadStatus reads the body of GET /admin/status from r. `trackhook status --json`
// prints the same.
func ReadStatus(ctx context.Context, r StatusReporter) (StoreStatus, error) {
	st, err := r.Stats(ctx)
	if err != nil {
		return StoreStatus{}, err
	}
	out := StoreStatus{
		ActiveReferences:       st.ActiveReferences,
		UnsubscribedReferences: st.UnsubscribedReferences,
		PendingDeliveries:      st.PendingDeliveries,
		FileBytes:              st.FileBytes,
		Pruned: PruneCounts{
			Updates: st.Pruned.Updates, DeliveryAttempts: st.Pruned.Attempts,
			IdempotencyKeys: st.Pruned.IdempotencyKeys, References: st.Pruned.References,
		},
		LastPrunedAt: st.LastPruneAt,
	}
	u, err := r.OldestUndelivered(ctx)
	if err != nil || u == nil {
		return out, err
	}
	out.OldestUndelivered = &PendingUpdate{ID: u.ID, ReferenceID: u.ReferenceID, Sequence: u.Sequence, Type: u.Type, CreatedAt: u.CreatedAt}
	return out, nil
}

// StoreStatus is an operator's quick look at a store: the body of GET /admin/status
// and of `trackhook status --json`, made of references.Stats and the oldest update
// waiting. Counts are for the whole store, all accounts.
type StoreStatus struct {
	ActiveReferences       int64 `json:"active_references"`
	UnsubscribedReferences int64 `json:"unsubscribed_references"`
	// PendingDeliveries is how many delivery streams (a reference's callback, an
	// endpoint's stream of a reference or of operational events) have something waiting.
	PendingDeliveries int64 `json:"pending_deliveries"`
	FileBytes         int64 `json:"file_bytes"`
	// OldestUndelivered is the oldest update waiting for delivery, nil when none is.
	OldestUndelivered *PendingUpdate `json:"oldest_undelivered"`
	// Pruned is what retention deleted since the store was created.
	Pruned PruneCounts `json:"pruned"`
	// LastPrunedAt is when retention last ran, nil before it first did.
	LastPrunedAt *time.Time `json:"last_pruned_at"`
}

// PruneCounts are references.PruneCounts on the wire.
type PruneCounts struct {
	Updates          int64 `json:"updates"`
	DeliveryAttempts int64 `json:"delivery_attempts"`
	IdempotencyKeys  int64 `json:"idempotency_keys"`
	References       int64 `json:"references"`
}

// PendingUpdate names an update waiting for delivery, without its snapshot.
type PendingUpdate struct {
	ID          string                `json:"id"`
	ReferenceID string                `json:"reference_id"`
	Sequence    uint64                `json:"sequence"`
	Type        references.UpdateType `json:"type"`
	CreatedAt   time.Time             `json:"created_at"`
}

// status is GET /admin/status.
func (s *server) status(c echo.Context) error {
	st, err := ReadStatus(c.Request().Context(), s.opts.Status)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	return c.JSON(http.StatusOK, st)
}
