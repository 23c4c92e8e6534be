package api

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestRateLimit_PerKeyWithRetryAfter(t *testing.T) {
	b := setup(t, func(c *setupConfig) {
		c.api.RateLimit = rate.Every(4 * time.Second) // one token per 4 s
		c.api.RateBurst = 3
	})
	get := func(key string) (*http.Response, []byte) {
		return b.do(t, http.MethodGet, "/references", key, nil)
	}
	for i := 0; i < 3; i++ {
		if resp, body := get(b.keyA); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := get(b.keyA)
	wantError(t, resp, body, http.StatusTooManyRequests, codeRateLimited, "")
	if got := resp.Header.Get("Retry-After"); got != "4" {
		t.Errorf("Retry-After %q, want 4", got)
	}

	// Another key has its own bucket; unauthenticated routes are not limited.
	if resp, body := get(b.keyB); resp.StatusCode != http.StatusOK {
		t.Fatalf("account B limited by A's traffic: %d %s", resp.StatusCode, body)
	}
	if resp, _ := b.do(t, http.MethodGet, "/healthz", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz limited: %d", resp.StatusCode)
	}

	// Refused requests do not use up future tokens: after 3 s one second is left.
	b.clock.Advance(3 * time.Second)
	resp, _ = get(b.keyA)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("after 3 s: status %d, Retry-After %q; want 429 and 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	b.clock.Advance(time.Second)
	if resp, body := get(b.keyA); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the wait: %d %s", resp.StatusCode, body)
	}
}

func TestRateLimit_RetryAfterRoundsUp(t *testing.T) {
	b := setup(t, func(c *setupConfig) {
		c.api.RateLimit = 2 // a token every 500 ms
		c.api.RateBurst = 1
	})
	b.do(t, http.MethodGet, "/references", b.keyA, nil)
	resp, _ := b.do(t, http.MethodGet, "/references", b.keyA, nil)
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || err != nil || secs != 1 {
		t.Fatalf("status %d, Retry-After %q; want 429 and 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestRateLimit_ConcurrentKeys(t *testing.T) {
	b := setup(t, func(c *setupConfig) {
		c.api.RateLimit = rate.Every(time.Hour) // no refill during the test
		c.api.RateBurst = 20
	})
	type result struct{ ok, limited int }
	results := make(chan result, 4)
	for _, key := range []string{b.keyA, b.keyA, b.keyB, b.keyB} {
		go func() {
			var r result
			for i := 0; i < 15; i++ {
				req, _ := http.NewRequest(http.MethodGet, b.srv.URL+"/references", nil)
				req.Header.Set("Authorization", "Bearer "+key)
				resp, err := b.srv.Client().Do(req)
				if err != nil {
					results <- r
					return
				}
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					r.ok++
				case http.StatusTooManyRequests:
					r.limited++
				}
			}
			results <- r
		}()
	}
	var total result
	for i := 0; i < 4; i++ {
		r := <-results
		total.ok += r.ok
		total.limited += r.limited
	}
	// Two keys, 30 requests each, a burst of 20 each: exactly 40 pass.
	if total.ok != 40 || total.limited != 20 {
		t.Errorf("%d passed and %d limited, want 40 and 20", total.ok, total.limited)
	}
}
