package api

import (
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
