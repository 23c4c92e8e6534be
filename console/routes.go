package console

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// routes registers every page and action. GET pages need a session (except sign-in);
// every POST needs a session and its CSRF token (see auth.go). Actions answer with a
// redirect (303) to the page that shows their result, or re-render their form with
// the API's field errors (422).
func (s *Server) routes(e *echo.Echo) {
	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, Prefix+"/") })
	e.GET(Prefix, func(c echo.Context) error { return c.Redirect(http.StatusFound, Prefix+"/") })
	e.GET(Prefix+"/assets/*", s.asset)

	// auth.go
	e.GET(Prefix+"/sign-in", s.signInForm, s.secure)
	e.POST(Prefix+"/sign-in", s.signIn, s.secure)
	g := e.Group(Prefix, s.secure, s.requireSession, s.checkCSRF)
	g.POST("/sign-out", s.signOut)

	// shipments.go, shipment.go
	g.GET("/", s.shipments)
	g.GET("/shipments.csv", s.shipmentsCSV)
	g.GET("/track", s.trackForm, s.requireWrite)
	g.POST("/track", s.track, s.requireWrite)
	g.GET("/shipments/:id", s.shipment)
	g.POST("/shipments/:id/refresh", s.refresh, s.requireWrite)
	g.POST("/shipments/:id/pause", s.pause, s.requireWrite)
	g.POST("/shipments/:id/resume", s.resume, s.requireWrite)
	g.POST("/shipments/:id/unsubscribe", s.unsubscribe, s.requireWrite)
	g.POST("/shipments/:id/updates/:update_id/resend", s.resendUpdate, s.requireWrite)

	// endpoints.go, messages.go
	g.GET("/webhooks", s.endpoints)
	g.GET("/webhooks/new", s.newEndpointForm, s.requireWrite)
	g.POST("/webhooks", s.createEndpoint, s.requireWrite)
	g.GET("/webhooks/:id", s.endpoint)
	g.GET("/webhooks/:id/edit", s.editEndpointForm, s.requireWrite)
	g.POST("/webhooks/:id", s.updateEndpoint, s.requireWrite)
	g.POST("/webhooks/:id/delete", s.deleteEndpoint, s.requireWrite)
	g.POST("/webhooks/:id/secret/reveal", s.revealEndpointSecret, s.requireWrite)
	g.POST("/webhooks/:id/secret/rotate", s.rotateEndpointSecret, s.requireWrite)
	g.POST("/webhooks/:id/test", s.testEndpoint, s.requireWrite)
	g.POST("/webhooks/:id/recover", s.recoverMessages, s.requireWrite)
	g.GET("/webhooks/:id/messages", s.messages)
	g.GET("/webhooks/:id/messages/:message_id", s.message)
	g.POST("/webhooks/:id/messages/:message_id/resend", s.resendMessage, s.requireWrite)

	// account.go
	g.GET("/account", s.account)
	g.GET("/account/keys", s.keys, s.requireAdmin)
	g.POST("/account/keys", s.createKey, s.requireAdmin)
	g.POST("/account/keys/:id/revoke", s.revokeKey, s.requireAdmin)
	g.GET("/account/audit", s.audit, s.requireAdmin)
	g.POST("/account/secret/reveal", s.revealAccountSecret, s.requireWrite)
	g.POST("/account/secret/rotate", s.rotateAccountSecret, s.requireWrite)
	g.GET("/account/events", s.accountEvents)

	// operator.go
	g.GET("/operator", s.operator, s.requireOperator)
}
