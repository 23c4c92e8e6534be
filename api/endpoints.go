package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// The /endpoints routes: an account's webhook endpoints and their secrets. Another
// account's endpoint is a 404 on every route, as the store answers.

// createEndpoint is POST /endpoints.
func (s *server) createEndpoint(c echo.Context) error {
	var body endpointBody
	if err := decodeJSON(c, &body, false); err != nil {
		return err
	}
	p, err := body.patch()
	if err != nil {
		return err
	}
	ep, err := s.svc.CreateEndpoint(c.Request().Context(), apiKey(c).AccountID, p)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/endpoints/"+ep.ID)
	return c.JSON(http.StatusCreated, newEndpoint(ep, s.now()))
}

// listEndpoints is GET /endpoints?limit=&cursor=.
func (s *server) listEndpoints(c echo.Context) error {
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := s.svc.ListEndpoints(c.Request().Context(), apiKey(c).AccountID, references.ListQuery{
		Limit: limit, Cursor: c.QueryParam("cursor"),
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newEndpointPage(page, s.now()))
}

// getEndpoint is GET /endpoints/:id.
func (s *server) getEndpoint(c echo.Context) error {
	id, err := pathID(c, "id", "endpoint")
	if err != nil {
		return err
	}
	ep, err := s.svc.GetEndpoint(c.Request().Context(), apiKey(c).AccountID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newEndpoint(ep, s.now()))
}

// patchEndpoint is PATCH /endpoints/:id: the fields given change, the others stay.
func (s *server) patchEndpoint(c echo.Context) error {
	id, err := pathID(c, "id", "endpoint")
	if err != nil {
		return err
	}
	var body endpointBody
	if err := decodeJSON(c, &body, false); err != nil {
		return err
	}
	p, err := body.patch()
	if err != nil {
		return err
	}
	ep, err := s.svc.PatchEndpoint(c.Request().Context(), apiKey(c).AccountID, id, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newEndpoint(ep, s.now()))
}

// deleteEndpoint is DELETE /endpoints/:id: the endpoint goes with its messages.
func (s *server) deleteEndpoint(c echo.Context) error {
	id, err := pathID(c, "id", "endpoint")
	if err != nil {
		return err
	}
	if err := s.svc.DeleteEndpoint(c.Request().Context(), apiKey(c).AccountID, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// getEndpointSecret is GET /endpoints/:id/secret.
func (s *server) getEndpointSecret(c echo.Context) error {
	noStore(c)
	id, err := pathID(c, "id", "endpoint")
	if err != nil {
		return err
	}
	ep, err := s.svc.GetEndpoint(c.Request().Context(), apiKey(c).AccountID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, secretsOf(ep.Live(s.now())))
}

// rotateEndpointSecret is POST /endpoints/:id/secret/rotate, with the body and the
// answer of the account's rotation. Rotations are limited per endpoint, with the
// account rotation's rate; the endpoint is looked up first, so ids that do not
// exist take no room in the limiter.
func (s *server) rotateEndpointSecret(c echo.Context) error {
	noStore(c)
	id, err := pathID(c, "id", "endpoint")
	if err != nil {
		return err
	}
	var body rotateBody
	if err := decodeJSON(c, &body, true); err != nil {
		return err
	}
	ctx, accountID := c.Request().Context(), apiKey(c).AccountID
	if s.rotations != nil {
		if _, err := s.svc.GetEndpoint(ctx, accountID, id); err != nil {
			return err
		}
		if d := s.rotations.Wait("endpoint/" + accountID + "/" + id); d > 0 {
			return retryLater(c, d, "too many secret rotations for this endpoint")
		}
	}
	var grace *time.Duration
	if body.GraceSeconds != nil {
		d := secondsToDuration(*body.GraceSeconds)
		grace = &d
	}
	ep, err := s.svc.RotateEndpointSecret(ctx, accountID, id, grace)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, secretsOf(ep.Live(s.now())))
}
