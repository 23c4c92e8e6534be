package api

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// Keys of values the middleware leaves in the echo context.
const (
	ctxRequestID = "trackhook.request_id"
	ctxAPIKey    = "trackhook.api_key"
)

// maxRequestIDLen bounds a request id a client sends, so it cannot bloat every log line.
const maxRequestIDLen = 64

// assignRequestID gives every request an id, echoed in X-Request-Id and written in its log
// lines. A client's own id is kept when it is a short token, so it can trace a call
// end to end; anything else is replaced.
func (s *server) assignRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !isToken(id, maxRequestIDLen, true) {
			id = rand.Text()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		c.Set(ctxRequestID, id)
		return next(c)
	}
}

// requestID returns the id assignRequestID gave the request.
func requestID(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// logRequests writes one line per request. It turns a returned error into its
// response first, so the line carries the status the client saw. No part of a key is
// logged, not even its stored prefix: an authenticated request names its key by id.
func (s *server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := s.now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		req, res := c.Request(), c.Response()
		attrs := []slog.Attr{
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.Int("status", res.Status),
			slog.Duration("latency", s.now().Sub(start)),
			slog.Int64("bytes", res.Size),
			slog.String("request_id", requestID(c)),
		}
		if key, ok := c.Get(ctxAPIKey).(references.APIKey); ok {
			attrs = append(attrs, slog.String("account", key.AccountID), slog.String("key_id", key.ID))
		}
		level := slog.LevelInfo
		if res.Status >= http.StatusInternalServerError {
			level = slog.LevelError
		}
		s.log.LogAttrs(req.Context(), level, "request", attrs...)
		return nil
	}
}

// panicError is a recovered panic, logged with its stack by the error handler.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }

// recoverPanics turns a panic in a handler into a 500 JSON error. http.ErrAbortHandler
// is let through: it is how a handler asks net/http to cut the connection.
func recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				err = &panicError{value: v, stack: debug.Stack()}
			}
		}()
		return next(c)
	}
}

// limitBody caps the request body (the batch create's has a cap of its own); reading past the cap fails with
// *http.MaxBytesError, which decodeJSON answers with 413.
func (s *server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		for _, prefix := range s.opts.OwnBodyLimits {
			if strings.HasPrefix(req.URL.Path, prefix) {
				return next(c)
			}
		}
		limit := s.opts.BodyLimit
		if c.Path() == "/references/batch" && req.Method == http.MethodPost {
			limit = s.opts.BatchBodyLimit
		}
		if req.ContentLength > limit {
			return tooLarge(limit)
		}
		req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
		return next(c)
	}
}

// isToken reports whether s is 1 to max characters of A-Z, a-z, 0-9, '_' and '-'
// (and '.' when dot is true).
func isToken(s string, max int, dot bool) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-':
		case c == '.' && dot:
		default:
			return false
		}
	}
	return true
}
