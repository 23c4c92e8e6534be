package references

import (
	"context"
	"fmt"
	"time"
)

// sessionTouchEvery bounds how often a session's LastSeenAt is written: requests
// closer together than this write nothing, and idle expiry may come this much early.
const sessionTouchEvery = time.Minute

// SignIn checks an API key as Authenticate does and opens a console session for
// it. It returns the session's token, for the cookie and nowhere else.
func (s *Service) SignIn(ctx context.Context, key string) (token string, sess Session, err error) {
	k, err := s.Authenticate(ctx, key)
	if err != nil {
		return "", Session{}, err
	}
	now := s.opts.Now().UTC()
	token = newSessionToken()
	sess = Session{
		TokenHash: HashAPIKey(token), AccountID: k.AccountID, KeyID: k.ID, KeyHash: k.Hash,
		CSRFToken: newSessionToken(), CreatedAt: now, LastSeenAt: now,
		Idle: s.opts.SessionIdle, ExpiresAt: now.Add(s.opts.SessionLifetime),
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return "", Session{}, fmt.Errorf("sign in: %w", err)
	}
	return token, sess, nil
}

// Session returns the live session of a cookie's token and the key it was opened
// with, marking it used. An unknown or ended session, or one whose key was revoked or
// expired, is CodeUnauthorized.
func (s *Service) Session(ctx context.Context, token string) (Session, APIKey, error) {
	if token == "" {
		return Session{}, APIKey{}, Errorf(CodeUnauthorized, "not signed in")
	}
	sess, err := s.store.GetSession(ctx, HashAPIKey(token))
	if ErrorCode(err) == CodeNotFound {
		return Session{}, APIKey{}, Errorf(CodeUnauthorized, "the session ended: sign in again")
	}
	if err != nil {
		return Session{}, APIKey{}, fmt.Errorf("session: %w", err)
	}
	now := s.opts.Now().UTC()
	if sess.ExpiredAt(now) {
		return Session{}, APIKey{}, Errorf(CodeUnauthorized, "the session expired: sign in again")
	}
	k, err := s.store.LookupAPIKey(ctx, sess.KeyHash)
	switch {
	case ErrorCode(err) == CodeNotFound:
		return Session{}, APIKey{}, Errorf(CodeUnauthorized, "the session's API key is gone: sign in again")
	case err != nil:
		return Session{}, APIKey{}, fmt.Errorf("session: %w", err)
	case !k.LiveAt(now):
		return Session{}, APIKey{}, Errorf(CodeUnauthorized, "the session's API key was revoked or expired: sign in with another")
	}
	if now.Sub(sess.LastSeenAt) >= sessionTouchEvery {
		if err := s.store.TouchSession(ctx, sess.TokenHash, now); err != nil {
			return Session{}, APIKey{}, fmt.Errorf("session: %w", err)
		}
		sess.LastSeenAt = now
	}
	if s.opts.KeyUsed != nil {
		s.opts.KeyUsed(k, now)
	}
	return sess, k, nil
}

// SignOut ends the session of a cookie's token; an unknown one is already ended.
func (s *Service) SignOut(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	if err := s.store.DeleteSession(ctx, HashAPIKey(token)); err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	return nil
}
