package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// Error codes that only exist at the HTTP level: what the HTTP layer itself refuses.
// The codes of the domain, which reach the client through the same table, are in
// references.
const (
	codeBadRequest           = "bad_request"  // the request could not be read (malformed JSON, unknown field)
	codeForbidden            = "forbidden"    // a valid key without the right (a scope, an operator route)
	codeTooLarge             = "too_large"    // the body is over the limit
	codeRateLimited          = "rate_limited" // too many requests for this key
	codeMethodNotAllowed     = "method_not_allowed"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeNotImplemented       = "not_implemented" // the store cannot do it (a backup of PostgreSQL)
)

// statusFor is the one table from error codes to HTTP statuses. Codes it does not know
// are treated as internal, so a new code never leaks a message by accident.
func statusFor(code string) int {
	switch code {
	case codeBadRequest:
		return http.StatusBadRequest
	case references.CodeUnauthorized:
		return http.StatusUnauthorized
	case codeForbidden, references.CodeQuotaExceeded:
		return http.StatusForbidden
	case references.CodeNotFound:
		return http.StatusNotFound
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case references.CodeConflict:
		return http.StatusConflict
	case codeTooLarge:
		return http.StatusRequestEntityTooLarge
	case codeUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case references.CodeInvalid, references.CodeIdempotencyMismatch:
		return http.StatusUnprocessableEntity
	case codeRateLimited:
		return http.StatusTooManyRequests
	case references.CodeUnavailable:
		return http.StatusServiceUnavailable
	case codeNotImplemented:
		return http.StatusNotImplemented
	default:
		return http.StatusInternalServerError
	}
}

// codeForStatus gives echo's own errors (unknown route, wrong method) a code.
func codeForStatus(status int) string {
	switch status {
	case http.StatusNotFound:
		return references.CodeNotFound
	case http.StatusMethodNotAllowed:
		return codeMethodNotAllowed
	case http.StatusUnauthorized:
		return references.CodeUnauthorized
	case http.StatusForbidden:
		return codeForbidden
	case http.StatusRequestEntityTooLarge:
		return codeTooLarge
	case http.StatusUnsupportedMediaType:
		return codeUnsupportedMediaType
	case http.StatusTooManyRequests:
		return codeRateLimited
	case http.StatusServiceUnavailable:
		return references.CodeUnavailable
	case http.StatusNotImplemented:
		return codeNotImplemented
	}
	if status >= 400 && status < 500 {
		return codeBadRequest
	}
	return references.CodeInternal
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	Field       string `json:"field,omitempty"`
	ReferenceID string `json:"reference_id,omitempty"`
}

// handleError is echo's HTTPErrorHandler: every error a handler or middleware returns,
// and echo's own (unknown route, wrong method), leaves as the same JSON shape.
func (s *server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		// Part of a response went out already; all that can be done is to say so.
		s.log.WarnContext(c.Request().Context(), "error after the response started",
			slog.String("request_id", requestID(c)), slog.Any("err", err))
		return
	}
	status, body := s.describeError(c, err)
	if c.Request().Method == http.MethodHead {
		err = c.NoContent(status)
	} else {
		err = writeError(c, status, body)
	}
	if err != nil {
		s.log.WarnContext(c.Request().Context(), "write error response",
			slog.String("request_id", requestID(c)), slog.Any("err", err))
	}
}

// writeError writes an error body as JSON without escaping <, > and & (echo's
// encoder writes them as \u003c...): messages quote usage such as "Bearer <key>",
// which must read as written. The answer is JSON, never HTML, so nothing needs them
// escaped.
func writeError(c echo.Context, status int, body errorBody) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return err
	}
	return c.Blob(status, echo.MIMEApplicationJSON, buf.Bytes())
}

// describeError turns err into a status and body. Internal errors are logged in full
// and shown to the client only as a generic message with the request id.
func (s *server) describeError(c echo.Context, err error) (int, errorBody) {
	var domain *references.Error
	var httpErr *echo.HTTPError
	switch {
	case errors.As(err, &domain):
		if status := statusFor(domain.Code); status != http.StatusInternalServerError {
			return status, errorBody{errorDetail{
				Code: domain.Code, Message: domain.Message, Field: domain.Field, ReferenceID: domain.ReferenceID,
			}}
		}
	case errors.As(err, &httpErr):
		code := codeForStatus(httpErr.Code)
		if code != references.CodeInternal {
			return statusFor(code), errorBody{errorDetail{Code: code, Message: echoMessage(c, httpErr.Code)}}
		}
	}
	attrs := []any{
		slog.String("request_id", requestID(c)),
		slog.String("method", c.Request().Method),
		slog.String("path", c.Request().URL.Path),
		slog.Any("err", err),
	}
	var p *panicError
	if errors.As(err, &p) {
		attrs = append(attrs, slog.String("stack", string(p.stack)))
	}
	s.log.ErrorContext(c.Request().Context(), "internal error", attrs...)
	return http.StatusInternalServerError, errorBody{errorDetail{
		Code:    references.CodeInternal,
		Message: fmt.Sprintf("internal error; quote request id %s when reporting it", requestID(c)),
	}}
}

// echoMessage words echo's routing errors for the API user.
func echoMessage(c echo.Context, status int) string {
	switch status {
	case http.StatusNotFound:
		return "no such route; see the API reference for the available paths"
	case http.StatusMethodNotAllowed:
		return fmt.Sprintf("method %s is not allowed on this path", c.Request().Method)
	case http.StatusRequestEntityTooLarge:
		return "the request body is too large"
	}
	return http.StatusText(status)
}
