package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// statusBody is the body of the health routes.
type statusBody struct {
	Status string `json:"status"`
}

// healthz says the process is up and serving HTTP, nothing more.
func (s *server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, statusBody{Status: "ok"})
}

// readyz says whether traffic should be sent here: it fails while shutting down or
// when the injected check does. A check's NotReady reason ("the database does not
// answer") is told to the caller, which is how an orchestrator's probe log says why;
// the error behind it is only logged, as it may name hosts and users.
func (s *server) readyz(c echo.Context) error {
	if s.opts.Ready != nil {
		if err := s.opts.Ready(c.Request().Context()); err != nil {
			s.log.WarnContext(c.Request().Context(), "not ready", slog.Any("err", err))
			msg := "the server is not ready to serve requests"
			var nr *notReady
			if errors.As(err, &nr) {
				msg += ": " + nr.reason
			}
			return references.Errorf(references.CodeUnavailable, "%s", msg)
		}
	}
	return c.JSON(http.StatusOK, statusBody{Status: "ok"})
}

// NotReady is an error for Options.Ready: reason says, in words fit for anyone who
// may call /readyz, why the server is not ready ("shutting down", "the database does
// not answer"); cause, which may be nil, is only logged.
func NotReady(reason string, cause error) error {
	return &notReady{reason: reason, cause: cause}
}

type notReady struct {
	reason string
	cause  error
}

func (e *notReady) Error() string {
	if e.cause == nil {
		return e.reason
	}
	return e.reason + ": " + e.cause.Error()
}

func (e *notReady) Unwrap() error { return e.cause }
