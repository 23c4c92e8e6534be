package api

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPISpec is the OpenAPI 3 description of every route New registers. A test
// checks it against the routes and against real responses, so it cannot drift.
//
//go:embed openapi.yaml
var openAPISpec []byte

// openAPI is GET /openapi.yaml. It needs no key: the API's shape is not a secret, and
// tools fetch it before they have one.
func (s *server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", openAPISpec)
}
