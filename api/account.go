package api

import (
	"math"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// secretsBody is the answer of the secret routes, the account's and an endpoint's: the
// secret to configure in a receiver now, and every secret that still signs, newest
// first, with its expiry.
type secretsBody struct {
	Secret  string          `json:"secret"`
	Secrets []WebhookSecret `json:"secrets"`
}

// liveSecrets returns the account's secrets that still sign at now, newest first.
func liveSecrets(acct references.Account, now time.Time) secretsBody {
	return secretsOf(acct.Live(now))
}

// getWebhookSecret is GET /account/webhook-secret.
func (s *server) getWebhookSecret(c echo.Context) error {
	noStore(c)
	acct, err := s.svc.WebhookSecret(c.Request().Context(), apiKey(c).AccountID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, liveSecrets(acct, s.now()))
}

// rotateBody is the optional body of POST /account/webhook-secret/rotate.
type rotateBody struct {
	// GraceSeconds is how long the secret being replaced keeps signing; absent (or
	// null) means the service's default, 0 replaces it at once.
	GraceSeconds *int64 `json:"grace_seconds"`
}

// rotateWebhookSecret is POST /account/webhook-secret/rotate. Rotations are limited
// per account: each one rewrites the account, which every delivery reads.
func (s *server) rotateWebhookSecret(c echo.Context) error {
	noStore(c)
	var body rotateBody
	if err := decodeJSON(c, &body, true); err != nil {
		return err
	}
	accountID := apiKey(c).AccountID
	if s.rotations != nil {
		if d := s.rotations.Wait(accountID); d > 0 {
			return retryLater(c, d, "too many webhook secret rotations for this account")
		}
	}
	var grace *time.Duration
	if body.GraceSeconds != nil {
		d := secondsToDuration(*body.GraceSeconds)
		grace = &d
	}
	acct, err := s.svc.RotateWebhookSecret(c.Request().Context(), accountID, grace)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, liveSecrets(acct, s.now()))
}

// noStore asks browsers and proxies not to keep the response: it holds secrets or
// the whole store.
func noStore(c echo.Context) {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
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
