package console

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
)

// confirmed reports whether a destructive action's form came back from its
// confirmation page (field confirm=yes).
func confirmed(c echo.Context) bool { return c.FormValue("confirm") == "yes" }

// confirm renders the confirmation page of the action c posted: question, and a form
// that posts the same fields again to the same path with confirm=yes (works without
// script). back is where Cancel goes.
func (s *Server) confirm(c echo.Context, question, back string) error {
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	fields := url.Values{}
	for k, v := range form {
		if k != "csrf" && k != "confirm" {
			fields[k] = v
		}
	}
	data := struct {
		Question string
		Action   string
		Fields   url.Values
		Back     string
	}{question, c.Request().URL.Path, fields, back}
	return s.render(c, http.StatusOK, "confirm.html", "Confirm", "", data)
}
