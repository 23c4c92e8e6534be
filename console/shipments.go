package console

// PLACEHOLDER (helper C): the shipments list, CSV export, the track form, the
// shipment detail and its actions.

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

func (s *Server) shipments(c echo.Context) error    { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) shipmentsCSV(c echo.Context) error { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) trackForm(c echo.Context) error    { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) track(c echo.Context) error        { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) shipment(c echo.Context) error     { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) refresh(c echo.Context) error      { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) pause(c echo.Context) error        { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) resume(c echo.Context) error       { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) unsubscribe(c echo.Context) error  { return c.NoContent(http.StatusNotImplemented) }
func (s *Server) resendUpdate(c echo.Context) error { return c.NoContent(http.StatusNotImplemented) }
