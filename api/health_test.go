package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/trackhook/trackhook/references"
)

func TestHealthz_AnswersWithoutKey(t *testing.T) {
	b := setup(t)
	resp, body := b.do(t, http.MethodGet, "/healthz", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if got := decode[statusBody](t, body); got.Status != "ok" {
		t.Errorf("body %s", body)
	}
}

func TestReadyz_FollowsReadyCheck(t *testing.T) {
	var mu sync.Mutex
	var readyErr error
	b := setup(t, func(c *setupConfig) {
		c.api.Ready = func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			return readyErr
		}
	})
	resp, body := b.do(t, http.MethodGet, "/readyz", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ready: status %d: %s", resp.StatusCode, body)
	}

	mu.Lock()
	readyErr = fmt.Errorf("shutting down")
	mu.Unlock()
	resp, body = b.do(t, http.MethodGet, "/readyz", "", nil)
	wantError(t, resp, body, http.StatusServiceUnavailable, references.CodeUnavailable, "")
}

// A NotReady reason reaches the caller; its cause, which may name hosts and users,
// only the log. Any other error gives the generic message.
func TestReadyz_SaysWhyButNotTheCause(t *testing.T) {
	var mu sync.Mutex
	var readyErr error
	b := setup(t, func(c *setupConfig) {
		c.api.Ready = func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			return readyErr
		}
	})
	set := func(err error) {
		mu.Lock()
		readyErr = err
		mu.Unlock()
	}
	set(NotReady("the database does not answer", errors.New("dial tcp db.internal:5432: connection refused")))
	resp, body := b.do(t, http.MethodGet, "/readyz", "", nil)
	got := wantError(t, resp, body, http.StatusServiceUnavailable, references.CodeUnavailable, "")
	if got.Message != "the server is not ready to serve requests: the database does not answer" {
		t.Errorf("message %q", got.Message)
	}
	if strings.Contains(string(body), "db.internal") || !strings.Contains(b.logs.String(), "db.internal") {
		t.Errorf("the cause must be logged, not answered: body %s\nlog %s", body, b.logs)
	}

	set(fmt.Errorf("wrapped: %w", NotReady("shutting down", nil)))
	resp, body = b.do(t, http.MethodGet, "/readyz", "", nil)
	if got := wantError(t, resp, body, http.StatusServiceUnavailable, references.CodeUnavailable, ""); got.Message != "the server is not ready to serve requests: shutting down" {
		t.Errorf("message %q", got.Message)
	}

	set(errors.New("some check failed at 10.0.0.7"))
	resp, body = b.do(t, http.MethodGet, "/readyz", "", nil)
	if got := wantError(t, resp, body, http.StatusServiceUnavailable, references.CodeUnavailable, ""); got.Message != "the server is not ready to serve requests" {
		t.Errorf("message %q", got.Message)
	}

	set(nil)
	if resp, body := b.do(t, http.MethodGet, "/readyz", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("ready again: %d %s", resp.StatusCode, body)
	}
}
