package references

import (
	"crypto/rand"
	"encoding/base64"
	"time"
)

// Lifetimes of a console session, the defaults of ServiceOptions.
const (
	DefaultSessionIdle     = 30 * time.Minute
	DefaultSessionLifetime = 12 * time.Hour
)

// Session is a console sign-in: the browser holds a random token in a cookie, the
// store the token's hash and what the session may do. It lasts while its API key
// lives, until ExpiresAt, and while it is used at least once every Idle.
type Session struct {
	TokenHash string // hex SHA-256 of the cookie's token
	AccountID string
	// KeyID and KeyHash name the API key the session was opened with; the key is
	// checked again on every request, so revoking or expiring it ends the session.
	KeyID   string
	KeyHash string
	// CSRFToken is sent back by every form that changes something.
	CSRFToken  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	Idle       time.Duration
	ExpiresAt  time.Time // the absolute end, whatever the use
}

// ExpiredAt reports whether the session has ended at now: its absolute end passed,
// or it was idle for Idle.
func (s *Session) ExpiredAt(now time.Time) bool {
	return !now.Before(s.ExpiresAt) || !now.Before(s.LastSeenAt.Add(s.Idle))
}

// newSessionToken returns a random token for a session's cookie: 32 bytes, base64url.
func newSessionToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}
