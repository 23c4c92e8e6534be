package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// refreshReference is POST /references/:id/refresh: the reference is polled at once,
// in the poller's own work; the answer (202) does not wait for the poll, whose result
// shows in the reference and its feed. Once a minute per reference, on top of the
// key's rate limit.
func (s *server) refreshReference(c echo.Context) error {
	id, err := pathID(c, "id", "reference")
	if err != nil {
		return err
	}
	ref, err := s.svc.Refresh(c.Request().Context(), apiKey(c).AccountID, id)
	var soon *references.RefreshTooSoon
	if errors.As(err, &soon) {
		return retryLater(c, soon.RetryAfter, "this reference was refreshed less than a minute ago")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, newReference(ref))
}

// pauseReference is POST /references/:id/pause: no polls and no deliveries until a
// resume. Pausing a paused reference answers the same.
func (s *server) pauseReference(c echo.Context) error {
	return s.changeReference(c, s.svc.Pause)
}

// resumeReference is POST /references/:id/resume: active again, polled at once.
// Resuming an active reference answers the same.
func (s *server) resumeReference(c echo.Context) error {
	return s.changeReference(c, s.svc.Resume)
}

// changeReference answers a state change of the reference in the path with the
// reference as changed.
func (s *server) changeReference(c echo.Context, change func(ctx context.Context, accountID, id string) (references.Reference, error)) error {
	id, err := pathID(c, "id", "reference")
	if err != nil {
		return err
	}
	ref, err := change(c.Request().Context(), apiKey(c).AccountID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newReference(ref))
}
