package api

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/internal/keylimit"
	"github.com/trackhook/trackhook/references"
)

// rateLimit refuses a request with 429 and Retry-After when the key is over its rate.
// It runs after authenticate, since it counts per key.
func (s *server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	if s.limiter == nil {
		return next
	}
	return func(c echo.Context) error {
		if d := s.limiter.Wait(apiKey(c).ID); d > 0 {
			return retryLater(c, d, "too many requests for this API key")
		}
		return next(c)
	}
}

// retryLater is the answer to a request over a rate: it sets Retry-After to d in
// whole seconds (at least 1) and returns a rate_limited error saying what was over it.
func retryLater(c echo.Context, d time.Duration, what string) error {
	secs := keylimit.RetryAfter(d)
	c.Response().Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	return references.Errorf(codeRateLimited, "%s; retry after %d s", what, secs)
}
