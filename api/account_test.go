package api

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

func TestWebhookSecret_GetAndRotate(t *testing.T) {
	b := setup(t)
	get := func(t *testing.T, key string) secretsBody {
		t.Helper()
		resp, body := b.do(t, http.MethodGet, "/account/webhook-secret", key, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		return decode[secretsBody](t, body)
	}

	first := get(t, b.keyA)
	if !strings.HasPrefix(first.Secret, "whsec_") || len(first.Secrets) != 1 || first.Secrets[0].Secret != first.Secret || first.Secrets[0].ExpiresAt != nil {
		t.Fatalf("initial secrets %+v", first)
	}
	if other := get(t, b.keyB); other.Secret == first.Secret {
		t.Fatal("two accounts share a secret")
	}

	b.clock.Advance(time.Minute)
	resp, body := b.do(t, http.MethodPost, "/account/webhook-secret/rotate", b.keyA, `{"grace_seconds": 3600}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate: status %d: %s", resp.StatusCode, body)
	}
	rotated := decode[secretsBody](t, body)
	if rotated.Secret == first.Secret || len(rotated.Secrets) != 2 || rotated.Secrets[0].Secret != rotated.Secret || rotated.Secrets[1].Secret != first.Secret {
		t.Fatalf("after rotation %+v", rotated)
	}
	wantExpiry := b.clock.Now().Add(time.Hour)
	if exp := rotated.Secrets[1].ExpiresAt; exp == nil || !exp.Equal(wantExpiry) {
		t.Errorf("old secret expires at %v, want %v", exp, wantExpiry)
	}
	if got := get(t, b.keyA); got.Secret != rotated.Secret || len(got.Secrets) != 2 {
		t.Errorf("GET after rotation %+v", got)
	}

	// Once the grace period is over only the new secret is listed.
	b.clock.Advance(time.Hour)
	if got := get(t, b.keyA); got.Secret != rotated.Secret || len(got.Secrets) != 1 {
		t.Errorf("after grace %+v", got)
	}
	// Account B was not touched.
	if got := get(t, b.keyB); len(got.Secrets) != 1 {
		t.Errorf("account B %+v", got)
	}
}

func TestWebhookSecret_RotateBodies(t *testing.T) {
	b := setup(t)
	tests := []struct {
		name, body string
		status     int
		code       string
		field      string
		wantGrace  time.Duration // for 200s: how long the old secret stays
	}{
		{"empty body uses default grace", ``, 200, "", "", references.DefaultRotationGrace},
		{"empty object uses default grace", `{}`, 200, "", "", references.DefaultRotationGrace},
		{"explicit grace", `{"grace_seconds": 60}`, 200, "", "", time.Minute},
		{"negative grace", `{"grace_seconds": -1}`, 422, references.CodeInvalid, "grace_seconds", 0},
		{"grace over a week", `{"grace_seconds": 604801}`, 422, references.CodeInvalid, "grace_seconds", 0},
		{"grace that overflows a duration", `{"grace_seconds": 9223372036854775807}`, 422, references.CodeInvalid, "grace_seconds", 0},
		{"fractional grace", `{"grace_seconds": 1.5}`, 400, codeBadRequest, "grace_seconds", 0},
		{"grace as string", `{"grace_seconds": "60"}`, 400, codeBadRequest, "grace_seconds", 0},
		{"unknown field", `{"grace": 60}`, 400, codeBadRequest, "grace", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.do(t, http.MethodPost, "/account/webhook-secret/rotate", b.keyA, tt.body)
			if tt.code != "" {
				wantError(t, resp, body, tt.status, tt.code, tt.field)
				return
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			got := decode[secretsBody](t, body)
			if len(got.Secrets) < 2 || got.Secrets[1].ExpiresAt == nil {
				t.Fatalf("secrets %+v", got)
			}
			if want := b.clock.Now().Add(tt.wantGrace); !got.Secrets[1].ExpiresAt.Equal(want) {
				t.Errorf("previous secret expires %v, want %v", got.Secrets[1].ExpiresAt, want)
			}
		})
	}
}

func TestSecondsToDuration_Saturates(t *testing.T) {
	tests := []struct {
		in   int64
		want time.Duration
	}{
		{0, 0},
		{60, time.Minute},
		{-60, -time.Minute},
		{math.MaxInt64, math.MaxInt64},
		{math.MinInt64, math.MinInt64},
	}
	for _, tt := range tests {
		if got := secondsToDuration(tt.in); got != tt.want {
			t.Errorf("secondsToDuration(%d) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// rotate posts a rotation for key's account with the given body and returns the
// answer, failing the test unless it is 200.
func (b *testBundle) rotate(t *testing.T, key, body string) secretsBody {
	t.Helper()
	resp, raw := b.do(t, http.MethodPost, "/account/webhook-secret/rotate", key, body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate %s: status %d: %s", body, resp.StatusCode, raw)
	}
	return decode[secretsBody](t, raw)
}

// Issue 11, item 4: 3,000 rotations with a 7-day grace left 3,001 secrets signing.
func TestWebhookSecret_AtMostThreeLiveAndOnlyTheOldestGraceEnds(t *testing.T) {
	b := setup(t)
	var expiries []time.Time // of each rotation's replaced secret, in order
	var last secretsBody
	for i := range 50 {
		b.clock.Advance(time.Minute)
		last = b.rotate(t, b.keyA, `{"grace_seconds": 604800}`)
		expiries = append(expiries, b.clock.Now().Add(7*24*time.Hour))
		if n := len(last.Secrets); n > references.MaxLiveSecrets || n != min(i+2, 3) {
			t.Fatalf("rotation %d: %d live secrets, want %d", i+1, n, min(i+2, 3))
		}
	}
	// The newest, and the two before it, each with the grace its own rotation gave.
	if last.Secrets[0].ExpiresAt != nil || last.Secret != last.Secrets[0].Secret {
		t.Errorf("newest secret %+v expires", last.Secrets[0])
	}
	for i, want := range []time.Time{expiries[49], expiries[48]} {
		if got := last.Secrets[i+1].ExpiresAt; got == nil || !got.Equal(want) {
			t.Errorf("secret %d expires at %v, want %v (its own grace)", i+1, got, want)
		}
	}
	resp, raw := b.do(t, http.MethodGet, "/account/webhook-secret", b.keyA, nil)
	if got := decode[secretsBody](t, raw); resp.StatusCode != http.StatusOK || len(got.Secrets) != 3 || len(raw) > 1024 {
		t.Errorf("GET after 50 rotations: %d, %d secrets, %d bytes", resp.StatusCode, len(got.Secrets), len(raw))
	}
}

// Issue 11, item 19: a second rotation cut the first secret's grace from 24 h to 10 min.
func TestWebhookSecret_SecondRotationKeepsTheFirstGrace(t *testing.T) {
	b := setup(t)
	first := b.rotate(t, b.keyA, ``) // the default grace, 24 h
	firstEnds := *first.Secrets[1].ExpiresAt
	if want := b.clock.Now().Add(references.DefaultRotationGrace); !firstEnds.Equal(want) {
		t.Fatalf("first rotation: the old secret ends %v, want %v", firstEnds, want)
	}
	b.clock.Advance(time.Minute)
	second := b.rotate(t, b.keyA, `{"grace_seconds": 600}`)
	if len(second.Secrets) != 3 {
		t.Fatalf("after two rotations %d live secrets, want 3: %+v", len(second.Secrets), second)
	}
	if got := second.Secrets[2].ExpiresAt; got == nil || !got.Equal(firstEnds) {
		t.Errorf("the first secret now ends %v, want %v still", got, firstEnds)
	}
	if got, want := second.Secrets[1].ExpiresAt, b.clock.Now().Add(10*time.Minute); got == nil || !got.Equal(want) {
		t.Errorf("the secret the second rotation replaced ends %v, want %v", got, want)
	}
}

func TestWebhookSecret_ZeroGraceReplacesAtOnce(t *testing.T) {
	b := setup(t)
	old := b.rotate(t, b.keyA, `{"grace_seconds": 3600}`)
	got := b.rotate(t, b.keyA, `{"grace_seconds": 0}`)
	if len(got.Secrets) != 2 || got.Secrets[0].Secret == old.Secret || got.Secrets[1].Secret != old.Secrets[1].Secret {
		t.Fatalf("after a rotation with grace 0: %+v; want the new secret and the one still in its hour of grace", got)
	}
}

func TestWebhookSecret_RotationsAreLimitedPerAccount(t *testing.T) {
	b := setup(t, func(c *setupConfig) { c.api.RotationLimit, c.api.RotationBurst = 0, 0 }) // the defaults
	for i := range DefaultRotationBurst {
		b.rotate(t, b.keyA, fmt.Sprintf(`{"grace_seconds": %d}`, 60+i))
	}
	resp, body := b.do(t, http.MethodPost, "/account/webhook-secret/rotate", b.keyA, `{"grace_seconds": 60}`)
	wantError(t, resp, body, http.StatusTooManyRequests, codeRateLimited, "")
	if got := resp.Header.Get("Retry-After"); got != "12" {
		t.Errorf("Retry-After %q, want 12", got)
	}
	b.rotate(t, b.keyB, ``) // another account has its own budget
	resp, body = b.do(t, http.MethodGet, "/account/webhook-secret", b.keyA, nil)
	if resp.StatusCode != http.StatusOK || len(decode[secretsBody](t, body).Secrets) != 3 {
		t.Errorf("GET while rotations are refused: %d %s", resp.StatusCode, body)
	}
	b.clock.Advance(12 * time.Second)
	b.rotate(t, b.keyA, ``)
}

// Issue 11, item 12: secrets and the store must not sit in a browser's or proxy's cache.
func TestSecretsAndBackup_AreNotCached(t *testing.T) {
	b := setup(t)
	for _, r := range []struct{ method, path, key string }{
		{http.MethodGet, "/account/webhook-secret", b.keyA},
		{http.MethodPost, "/account/webhook-secret/rotate", b.keyA},
		{http.MethodGet, "/admin/backup", b.adminKey},
	} {
		resp, body := b.do(t, r.method, r.path, r.key, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: %d, Cache-Control %q; want 200 and no-store (%.100s)", r.method, r.path, resp.StatusCode, resp.Header.Get("Cache-Control"), body)
		}
	}
}
