package console

// The operator view: the state of the whole store, for operator keys.

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// operatorData is what operator.html shows.
type operatorData struct {
	Stats references.Stats
	// Oldest is the oldest update waiting for delivery, of any account; nil when the
	// queue is empty.
	Oldest       *references.Update
	OpenBreakers []string // destination hosts, sorted
	Breakers     bool     // whether breakers are reported at all
}

func (s *Server) operator(c echo.Context) error {
	ctx := c.Request().Context()
	st, err := s.opts.Operator.Stats(ctx)
	if err != nil {
		return s.errorPage(c, err)
	}
	oldest, err := s.opts.Operator.OldestUndelivered(ctx)
	if err != nil {
		return s.errorPage(c, err)
	}
	d := operatorData{Stats: st, Oldest: oldest}
	if s.opts.OpenBreakers != nil {
		d.Breakers = true
		d.OpenBreakers = slices.Sorted(slices.Values(s.opts.OpenBreakers()))
	}
	return s.render(c, http.StatusOK, "operator.html", "Operator", "operator", d)
}
