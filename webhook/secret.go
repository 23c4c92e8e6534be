package webhook

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SecretPrefix starts every signing secret, so that a secret is recognisable when it
// shows up in a configuration file or a log it should not be in.
const SecretPrefix = "whsec_"

// Key sizes accepted by [ParseSecret]. The specification asks for at least 24 random
// bytes (192 bits) and at most 512 bits; trackhook makes 32
// (references.NewWebhookSecret).
const (
	MinSecretBytes = 24
	MaxSecretBytes = 64
)

// ErrInvalidSecret is returned (wrapped, with the reason) for a signing secret that is
// not "whsec_" followed by the standard base64 encoding of 24 to 64 bytes.
var ErrInvalidSecret = errors.New("invalid webhook secret")

// ParseSecret returns the key bytes of a signing secret, or an error wrapping
// [ErrInvalidSecret] that says what is wrong with it. The error never contains the
// secret itself, so it is safe to log.
func ParseSecret(secret string) ([]byte, error) {
	encoded, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: it does not start with %q", ErrInvalidSecret, SecretPrefix)
	}
	// Strict decoding refuses embedded newlines and non-zero padding bits, so that one
	// key has exactly one written form.
	key, err := base64.StdEncoding.Strict().DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: the part after %q is not standard base64", ErrInvalidSecret, SecretPrefix)
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, fmt.Errorf("%w: the key is %d bytes, want %d to %d", ErrInvalidSecret, len(key), MinSecretBytes, MaxSecretBytes)
	}
	return key, nil
}

// parseSecrets parses each secret, naming the position of a bad one (never its value).
func parseSecrets(secrets []string) ([][]byte, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secret given", ErrInvalidSecret)
	}
	keys := make([][]byte, 0, len(secrets))
	for i, s := range secrets {
		k, err := ParseSecret(s)
		if err != nil {
			return nil, fmt.Errorf("secret %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}
