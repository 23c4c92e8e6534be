package console

// PLACEHOLDER (helper B): account, keys, audit, account secret, operational events.

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

func (s *Server) account(c echo.Context) error   { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) keys(c echo.Context) error      { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) createKey(c echo.Context) error { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) revokeKey(c echo.Context) error { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) audit(c echo.Context) error     { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) revealAccountSecret(c echo.Context) error {
	return c.NoContent(http.StatusNotImplemented)
}
func (s *Server) rotateAccountSecret(c echo.Context) error {
	return c.NoContent(http.StatusNotImplemented)
}
func (s *Server) accountEvents(c echo.Context) error { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) operator(c echo.Context) error      { return c.NoContent(http.StatusNotImplemented) }
