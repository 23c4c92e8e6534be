package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/webhook"
)

// EventTypeList is the answer of GET /event-types: the catalogue of webhook.Catalogue,
// every update type, tag and operational event type with a description and an example
// body made by the real encoders.
type EventTypeList struct {
	EventTypes []webhook.CatalogueEntry `json:"event_types"`
}

// eventTypes is GET /event-types.
func (s *server) eventTypes(c echo.Context) error {
	return c.JSON(http.StatusOK, EventTypeList{EventTypes: webhook.Catalogue()})
}
