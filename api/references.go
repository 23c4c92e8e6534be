package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// maxPathIDLen bounds ids taken from the path. Real ids are a prefix and 26 characters.
const maxPathIDLen = 64

// pathID returns the path parameter name when it looks like an id, and a not-found
// error otherwise, so junk never reaches the store.
func pathID(c echo.Context, name, what string) (string, error) {
	id := c.Param(name)
	if !isToken(id, maxPathIDLen, false) {
		return "", references.Errorf(references.CodeNotFound, "%s not found", what)
	}
	return id, nil
}

// queryLimit reads ?limit=; absent means the service's default page size.
func queryLimit(c echo.Context) (int, error) {
	raw := c.QueryParam("limit")
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, references.Invalidf("limit", "must be an integer between 1 and %d", references.MaxPageSize)
	}
	return n, nil
}

// createReference is POST /references. With an Idempotency-Key, a retry of a request
// that already succeeded answers with the same reference and Idempotent-Replayed: true.
func (s *server) createReference(c echo.Context) error {
	var body createBody
	if err := decodeJSON(c, &body, false); err != nil {
		return err
	}
	req, err := body.request()
	if err != nil {
		return err
	}
	ref, replayed, err := s.svc.Create(c.Request().Context(), apiKey(c).AccountID, req, c.Request().Header.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	if replayed {
		c.Response().Header().Set("Idempotent-Replayed", "true")
	}
	c.Response().Header().Set(echo.HeaderLocation, "/references/"+ref.ID)
	return c.JSON(http.StatusCreated, newReference(ref))
}

// listReferences is GET /references with the filters of parseListQuery, as JSON
// pages or, asked for CSV, the whole filtered list (see exportReferences).
func (s *server) listReferences(c echo.Context) error {
	q, formatCSV, err := parseListQuery(c.QueryParams(), s.now())
	if err != nil {
		return err
	}
	if wantsCSV(c, formatCSV) {
		return s.exportReferences(c, q)
	}
	page, err := s.svc.List(c.Request().Context(), apiKey(c).AccountID, q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newReferencePage(page))
}

// getShipment is GET /references/:id/shipment: the latest snapshot alone, 404 before
// the first successful poll.
func (s *server) getShipment(c echo.Context) error {
	id, err := pathID(c, "id", "reference")
	if err != nil {
		return err
	}
	snap, err := s.svc.Shipment(c.Request().Context(), apiKey(c).AccountID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, webhook.NewShipment(&snap))
}

// getReference is GET /references/:id.
func (s *server) getReference(c echo.Context) error {
	id, err := pathID(c, "id", "reference")
	if err != nil {
		return err
	}
	ref, err := s.svc.Get(c.Request().Context(), apiKey(c).AccountID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newReference(ref))
}

// unsubscribeReference is DELETE /references/:id: tracking stops, the reference stays
// readable. Deleting twice answers the same.
func (s *server) unsubscribeReference(c echo.Context) error {
	id, err := pathID(c, "id", "reference")
	if err != nil {
		return err
	}
	ref, err := s.svc.Unsubscribe(c.Request().Context(), apiKey(c).AccountID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newReference(ref))
}

// patchReference is PATCH /references/:id with {"callback_url", "event_types"}.
func (s *server) patchReference(c echo.Context) error {
	id, err := pathID(c, "id", "reference")
	if err != nil {
		return err
	}
	var body patchBody
	if err := decodeJSON(c, &body, false); err != nil {
		return err
	}
	ref, err := s.svc.Patch(c.Request().Context(), apiKey(c).AccountID, id, body.patch())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newReference(ref))
}

// listUpdates is GET /references/:id/updates?after=&limit=, the pull feed.
func (s *server) listUpdates(c echo.Context) error {
	id, err := pathID(c, "id", "reference")
	if err != nil {
		return err
	}
	var after uint64
	if raw := c.QueryParam("after"); raw != "" {
		if after, err = strconv.ParseUint(raw, 10, 64); err != nil {
			return references.Invalidf("after", "must be the sequence number of an update (an integer of 0 or more)")
		}
	}
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := s.svc.Updates(c.Request().Context(), apiKey(c).AccountID, id, after, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newUpdatePage(page))
}

// listDeliveries is GET /references/:id/deliveries?limit=&cursor=, newest first.
func (s *server) listDeliveries(c echo.Context) error {
	id, err := pathID(c, "id", "reference")
	if err != nil {
		return err
	}
	limit, err := queryLimit(c)
	if err != nil {
		return err
	}
	page, err := s.svc.Deliveries(c.Request().Context(), apiKey(c).AccountID, id, references.DeliveryQuery{
		Limit:  limit,
		Cursor: c.QueryParam("cursor"),
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newDeliveryPage(page))
}

// queuedBody is the answer to a redelivery request.
type queuedBody struct {
	Status string `json:"status"`
}

// redeliver is POST /references/:id/updates/:update_id/redeliver.
func (s *server) redeliver(c echo.Context) error {
	id, err := pathID(c, "id", "reference")
	if err != nil {
		return err
	}
	updateID, err := pathID(c, "update_id", "update")
	if err != nil {
		return err
	}
	if err := s.svc.Redeliver(c.Request().Context(), apiKey(c).AccountID, id, updateID); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, queuedBody{Status: "queued"})
}
