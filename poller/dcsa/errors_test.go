package dcsa

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewAPIError_ReadsTheBody(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"DCSA body", 400, `{"httpMethod": "GET", "requestUri": "/v2/events", "statusCode": 400, "statusCodeText": "Bad Request",
			"errorDateTime": "2024-03-20T10:15:00Z", "errors": [{"reason": "invalidQuery", "message": "limit must be positive"}, {"reason": "invalidParameter"}]}`,
			"400 Bad Request: invalidQuery: limit must be positive; invalidParameter"},
		{"more details than shown", 400, `{"errors": [{"reason": "a"}, {"reason": "b"}, {"reason": "c"}, {"reason": "d"}]}`,
			"400 Bad Request: a; b; c"},
		{"gateway JSON", 403, `{"message": "Forbidden: plan does not include T&T"}`, "403 Forbidden: Forbidden: plan does not include T&T"},
		{"OAuth-style JSON", 401, `{"error": "invalid_token", "error_description": "expired"}`, "401 Unauthorized: invalid_token: expired"},
		{"HTML", 502, `<html><body><h1>502</h1></body></html>`, "502 Bad Gateway"},
		{"empty", 500, ``, "500 Internal Server Error"},
		{"unknown status", 599, ``, "599"},
		{"hostile text", 400, `{"statusCodeText": "Bad\nRequest", "errors": [{"reason": "` + strings.Repeat("x", 5000) + `"}]}`,
			"400 Bad Request: " + strings.Repeat("x", maxErrorFieldLen)},
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
	apiErr := &APIError{StatusCode: 429, StatusText: "Too Many Requests"}
	err := withRetryAfter(apiErr, time.Minute)
	var got *APIError
	if !errors.As(err, &got) || got != apiErr {
		t.Fatalf("errors.As did not find the APIError in %v", err)
	}
	if err.Error() != "429 Too Many Requests (retry after 1m0s)" {
		t.Errorf("text %q", err)
	}
	if withRetryAfter(apiErr, 0) != error(apiErr) {
		t.Errorf("no wait: want the APIError as it is")
	}
}
