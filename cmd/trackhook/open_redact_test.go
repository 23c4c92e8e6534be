package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRedactURL_NeverShowsAPassword(t *testing.T) {
	tests := []struct{ in, want string }{
		{"trackhook.db", "trackhook.db"},
		{"/data/trackhook.db", "/data/trackhook.db"},
		{"postgres://app:s3cret@db.internal:5432/trackhook", "postgres://app:xxxxx@db.internal:5432/trackhook"},
		{"postgresql://app:s3cret@db.internal/trackhook?sslmode=require", "postgresql://app:xxxxx@db.internal/trackhook?sslmode=require"},
		{"postgres://app@db.internal/trackhook", "postgres://app@db.internal/trackhook"},
		{"postgres://db.internal/trackhook?user=app&password=s3cret", "postgres://db.internal/trackhook?password=xxxxx&user=app"},
		{"postgres://app:p%40ss%2Fword@db.internal/trackhook", "postgres://app:xxxxx@db.internal/trackhook"},
		// Not a URL url.Parse reads (an unescaped @ and / in the password): all up to
		// the last @ may be password.
		{"postgres://app:p@ss/w@db.internal/trackhook", "postgres://app:xxxxx@db.internal/trackhook"},
		{"postgres://app:s3cret@[::1", "postgres://app:xxxxx@[::1"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestScrubSecrets_RemovesThePasswordAndKeepsTheChain(t *testing.T) {
	target := "postgres://app:p%40ss@db.internal/trackhook?password=other"
	cause := errors.New("driver said: cannot connect to postgres://app:p%40ss@db.internal (password p@ss, other)")
	err := scrubSecrets(fmt.Errorf("open: %w", cause), target)
	for _, secret := range []string{"p@ss", "p%40ss", "other"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%q shows %q", err, secret)
		}
	}
	if !errors.Is(err, cause) {
		t.Error("the scrubbed error no longer wraps its cause")
	}
	plain := errors.New("connection refused")
	if got := scrubSecrets(plain, target); got != plain {
		t.Errorf("an error without secrets was changed: %v", got)
	}
}
