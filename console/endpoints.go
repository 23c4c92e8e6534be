package console

// PLACEHOLDER (helper D): endpoints, their secrets, messages.

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

func (s *Server) endpoints(c echo.Context) error       { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) newEndpointForm(c echo.Context) error { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) createEndpoint(c echo.Context) error  { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) endpoint(c echo.Context) error        { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) editEndpointForm(c echo.Context) error {
	return c.NoContent(http.StatusNotImplemented)
}
func (s *Server) updateEndpoint(c echo.Context) error { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) deleteEndpoint(c echo.Context) error { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) revealEndpointSecret(c echo.Context) error {
	return c.NoContent(http.StatusNotImplemented)
}
func (s *Server) rotateEndpointSecret(c echo.Context) error {
	return c.NoContent(http.StatusNotImplemented)
}
func (s *Server) testEndpoint(c echo.Context) error    { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) recoverMessages(c echo.Context) error { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) messages(c echo.Context) error        { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) message(c echo.Context) error         { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) resendMessage(c echo.Context) error   { return c.NoContent(http.StatusNotImplemented) }
