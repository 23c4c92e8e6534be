package api

import (
	"math"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// secretsBody is the answer of both webhook-secret routes: the secret to configure in
// a receiver now, and every secret that still signs, newest first.
type secretsBody struct {
	Secret  string          `json:"secret"`
	Secrets []WebhookSecret `json:"secrets"`
}

// liveSecrets returns the account's secrets that still sign at now, newest first.
func liveSecrets(acct references.Account, now time.Time) secretsBody {
	body := secretsBody{Secrets: []WebhookSecret{}}
	for i := len(acct.WebhookSecrets) - 1; i >= 0; i-- {
		s := acct.WebhookSecrets[i]
		if s.ExpiresAt == nil || now.Before(*s.ExpiresAt) {
			body.Secrets = append(body.Secrets, WebhookSecret{Secret: s.Secret, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt})
		}
	}
	if len(body.Secrets) > 0 {
		body.Secret = body.Secrets[0].Secret
	}
	return body
}

// getWebhookSecret is GET /account/webhook-secret.
func (s *server) getWebhookSecret(c echo.Context) error {
	acct, err := s.svc.WebhookSecret(c.Request().Context(), apiKey(c).AccountID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, liveSecrets(acct, s.now()))
}

// rotateBody is the optional body of POST /account/webhook-secret/rotate.
type rotateBody struct {
	// GraceSeconds is how long the old secrets keep signing; absent or 0 means the
	// service's default.
	GraceSeconds int64 `json:"grace_seconds"`
}

// rotateWebhookSecret is POST /account/webhook-secret/rotate.
func (s *server) rotateWebhookSecret(c echo.Context) error {
	var body rotateBody
	if err := decodeJSON(c, &body, true); err != nil {
		return err
	}
	acct, err := s.svc.RotateWebhookSecret(c.Request().Context(), apiKey(c).AccountID, secondsToDuration(body.GraceSeconds))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, liveSecrets(acct, s.now()))
}

// secondsToDuration converts whole seconds from a request, saturating instead of
// overflowing, so that absurd values still fail the service's range check.
func secondsToDuration(secs int64) time.Duration {
	const maxSecs = math.MaxInt64 / int64(time.Second)
	switch {
	case secs > maxSecs:
		return math.MaxInt64
	case secs < -maxSecs:
		return math.MinInt64
	}
	return time.Duration(secs) * time.Second
}
