package api

import (
	"context"
	"fmt"
	"net/http"
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
