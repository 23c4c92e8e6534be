package webhook

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/trackhook/trackhook/references"
)

func TestParseSecret_ReadsTrackhooksSecrets(t *testing.T) {
	t.Parallel()
	s := references.NewWebhookSecret()
	key, err := ParseSecret(s)
	if err != nil {
		t.Fatalf("ParseSecret(%q...) = %v", s[:10], err)
	}
	if len(key) != 32 {
		t.Fatalf("trackhook's secrets carry %d key bytes, want 32", len(key))
	}
	if key2, _ := ParseSecret(references.NewWebhookSecret()); bytes.Equal(key, key2) {
		t.Fatal("two new secrets are equal")
	}
}

func TestParseSecret(t *testing.T) {
	t.Parallel()
	enc := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, n)) }
	tests := []struct {
		name    string
		secret  string
		wantLen int    // key length when valid
		wantMsg string // part of the error when invalid
	}{
		{name: "24 bytes, the minimum", secret: "whsec_" + enc(24), wantLen: 24},
		{name: "32 bytes", secret: "whsec_" + enc(32), wantLen: 32},
		{name: "64 bytes, the maximum", secret: "whsec_" + enc(64), wantLen: 64},
		{name: "spec library secret", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", wantLen: 24},
		{name: "no prefix", secret: enc(32), wantMsg: "does not start with"},
		{name: "other prefix", secret: "whsk_" + enc(32), wantMsg: "does not start with"},
		{name: "empty", secret: "", wantMsg: "does not start with"},
		{name: "prefix only", secret: "whsec_", wantMsg: "key is 0 bytes"},
		{name: "not base64", secret: "whsec_not*base64!", wantMsg: "not standard base64"},
		{name: "url-safe alphabet", secret: "whsec_" + strings.NewReplacer("+", "-", "/", "_").Replace(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb, 0xff}, 16))), wantMsg: "not standard base64"},
		{name: "missing padding", secret: "whsec_" + strings.TrimRight(enc(31), "="), wantMsg: "not standard base64"},
		{name: "embedded newline", secret: "whsec_" + enc(16) + "\n" + enc(16), wantMsg: "not standard base64"},
		{name: "too short", secret: "whsec_" + enc(16), wantMsg: "key is 16 bytes"},
		{name: "too long", secret: "whsec_" + enc(65), wantMsg: "key is 65 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key, err := ParseSecret(tt.secret)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("ParseSecret() = %v, want no error", err)
				}
				if len(key) != tt.wantLen {
					t.Fatalf("key is %d bytes, want %d", len(key), tt.wantLen)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSecret) {
				t.Fatalf("ParseSecret() = %v, want ErrInvalidSecret", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not say %q", err, tt.wantMsg)
			}
			if len(tt.secret) > len("whsec_")+4 && strings.Contains(err.Error(), tt.secret[len("whsec_"):]) {
				t.Fatalf("error %q contains the secret", err)
			}
		})
	}
}
