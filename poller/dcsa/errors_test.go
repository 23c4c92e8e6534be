package dcsa

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestNewAPIError_ReadsTheBody: the text of a carrier's error answer, which becomes
// last_poll_error, says who answered what, and never glues the carrier's words to a
// status text that may not even be its status's.
func TestNewAPIError_ReadsTheBody(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"DCSA body", 400, `{"httpMethod": "GET", "requestUri": "/v2/events", "statusCode": 400, "statusCodeText": "Bad Request",
			"errorDateTime": "2024-03-20T10:15:00Z", "errors": [{"reason": "invalidQuery", "message": "limit must be positive"}, {"reason": "invalidParameter"}]}`,
			"carrier answered 400: invalidQuery: limit must be positive; invalidParameter"},
		{"status text of another status", 422, `{"statusCode": 422, "statusCodeText": "Bad Request",
			"errors": [{"reason": "invalidQuery", "message": "transportDocumentReference: size must be between 0 and 20"}]}`,
			"carrier answered 422: invalidQuery: transportDocumentReference: size must be between 0 and 20"},
		{"status text alone, of another status", 422, `{"statusCode": 422, "statusCodeText": "Bad Request"}`,
			"carrier answered 422: Bad Request"},
		{"status text alone, the standard one", 500, `{"statusCodeText": "internal server error"}`,
			"carrier answered 500 Internal Server Error"},
		{"status text alone, saying more", 503, `{"statusCodeText": "Down for maintenance until 10:00 UTC"}`,
			"carrier answered 503: Down for maintenance until 10:00 UTC"},
		{"more details than shown", 400, `{"errors": [{"reason": "a"}, {"reason": "b"}, {"reason": "c"}, {"reason": "d"}]}`,
			"carrier answered 400: a; b; c"},
		{"gateway JSON", 403, `{"message": "Forbidden: plan does not include T&T"}`, "carrier answered 403: Forbidden: plan does not include T&T"},
		{"OAuth-style JSON", 401, `{"error": "invalid_token", "error_description": "expired"}`, "carrier answered 401: invalid_token: expired"},
		{"HTML", 502, `<html><body><h1>502</h1></body></html>`, "carrier answered 502 Bad Gateway"},
		{"empty", 500, ``, "carrier answered 500 Internal Server Error"},
		{"unknown status", 599, ``, "carrier answered 599"},
		{"hostile text", 400, `{"statusCodeText": "Bad\nRequest", "errors": [{"reason": "` + strings.Repeat("x", 5000) + `"}]}`,
			"carrier answered 400: " + strings.Repeat("x", maxErrorFieldLen)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := newAPIError(tt.status, []byte(tt.body))
			if err.Error() != tt.want {
				t.Errorf("got  %q\nwant %q", err, tt.want)
			}
		})
	}
}

func TestWithRetryAfter_KeepsTheAPIError(t *testing.T) {
	apiErr := &APIError{StatusCode: 429}
	err := withRetryAfter(apiErr, time.Minute)
	var got *APIError
	if !errors.As(err, &got) || got != apiErr {
		t.Fatalf("errors.As did not find the APIError in %v", err)
	}
	if err.Error() != "carrier answered 429 Too Many Requests (retry after 1m0s)" {
		t.Errorf("text %q", err)
	}
	if withRetryAfter(apiErr, 0) != error(apiErr) {
		t.Errorf("no wait: want the APIError as it is")
	}
}
