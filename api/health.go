package api

import (
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
// when the injected check does.
func (s *server) readyz(c echo.Context) error {
	if s.opts.Ready != nil {
		if err := s.opts.Ready(c.Request().Context()); err != nil {
			s.log.WarnContext(c.Request().Context(), "not ready", slog.Any("err", err))
			return references.Errorf(references.CodeUnavailable, "the server is not ready to serve requests")
		}
	}
	return c.JSON(http.StatusOK, statusBody{Status: "ok"})
}
