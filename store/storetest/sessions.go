package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runSessions exercises the SessionStore: what a session holds, touches that never
// move it back, idempotent deletes, and the expired sessions a sign-in clears.
func runSessions(t *testing.T, open Opener) {
	t.Run("Sessions", func(t *testing.T) {
		t.Run("EveryFieldReadsBackAsStored", func(t *testing.T) {
			f := setup(t, open)
			s := f.newSession(acctA, 30*time.Minute, 12*time.Hour)
			f.createSession(s)
			if got, err := f.b.GetSession(f.ctx, s.TokenHash); err != nil || !sameSession(got, s) {
				t.Errorf("GetSession = %+v, %v; want %+v", got, err, s)
			}
			f.restart()
			if got, err := f.b.GetSession(f.ctx, s.TokenHash); err != nil || !sameSession(got, s) {
				t.Errorf("GetSession after a restart = %+v, %v; want %+v", got, err, s)
			}
		})

		t.Run("ExpiredOneIsStillReturned", func(t *testing.T) {
			f := setup(t, open)
			s := f.newSession(acctA, time.Minute, time.Hour)
			f.createSession(s)
			f.clk.Advance(2 * time.Hour)
			if got, err := f.b.GetSession(f.ctx, s.TokenHash); err != nil || !sameSession(got, s) {
				t.Errorf("GetSession of an expired session = %+v, %v; want it as stored (the Service decides)", got, err)
			}
		})

		t.Run("UnknownIsNotFound", func(t *testing.T) {
			f := setup(t, open)
			hash := references.HashAPIKey("no-such-token")
			if _, err := f.b.GetSession(f.ctx, hash); !errors.Is(err, references.ErrNotFound) {
				t.Errorf("GetSession of an unknown hash: %v, want ErrNotFound", err)
			}
			if err := f.b.TouchSession(f.ctx, hash, f.now()); !errors.Is(err, references.ErrNotFound) {
				t.Errorf("TouchSession of an unknown hash: %v, want ErrNotFound", err)
			}
			if err := f.b.DeleteSession(f.ctx, hash); err != nil {
				t.Errorf("DeleteSession of an unknown hash: %v, want nothing done", err)
			}
		})

		t.Run("TouchNeverMovesBack", func(t *testing.T) {
			f := setup(t, open)
			s := f.newSession(acctA, 30*time.Minute, 12*time.Hour)
			f.createSession(s)
			later := s.CreatedAt.Add(10 * time.Minute)
			for _, tc := range []struct {
				name string
				at   time.Time
				want time.Time
			}{
				{"forward", later, later},
				{"back", s.CreatedAt.Add(5 * time.Minute), later},
				{"the same", later, later},
				{"forward again", later.Add(time.Second), later.Add(time.Second)},
			} {
				if err := f.b.TouchSession(f.ctx, s.TokenHash, tc.at); err != nil {
					t.Fatalf("TouchSession %s: %v", tc.name, err)
				}
				got := f.session(s.TokenHash)
				if !got.LastSeenAt.Equal(tc.want) {
					t.Errorf("touch %s to %v: LastSeenAt %v, want %v", tc.name, tc.at, got.LastSeenAt, tc.want)
				}
				want := s
				want.LastSeenAt = tc.want
				if !sameSession(got, want) {
					t.Errorf("touch %s changed more than LastSeenAt: %+v, want %+v", tc.name, got, want)
				}
			}
		})

		t.Run("DeleteIsIdempotentAndEndsTouches", func(t *testing.T) {
			f := setup(t, open)
			s := f.newSession(acctA, 30*time.Minute, 12*time.Hour)
			other := f.newSession(acctA, 30*time.Minute, 12*time.Hour)
			f.createSession(s)
			f.createSession(other)
			for i := range 2 {
				if err := f.b.DeleteSession(f.ctx, s.TokenHash); err != nil {
					t.Fatalf("DeleteSession (%d): %v", i+1, err)
				}
			}
			if _, err := f.b.GetSession(f.ctx, s.TokenHash); !errors.Is(err, references.ErrNotFound) {
				t.Errorf("GetSession of a deleted session: %v, want ErrNotFound", err)
			}
			if err := f.b.TouchSession(f.ctx, s.TokenHash, f.now().Add(time.Minute)); !errors.Is(err, references.ErrNotFound) {
				t.Errorf("TouchSession of a deleted session: %v, want ErrNotFound", err)
			}
			if got := f.session(other.TokenHash); !sameSession(got, other) {
				t.Errorf("the account's other session = %+v, want it untouched", got)
			}
		})

		t.Run("SameTokenHashIsConflict", func(t *testing.T) {
			f := setup(t, open)
			s := f.newSession(acctA, 30*time.Minute, 12*time.Hour)
			f.createSession(s)
			again := f.newSession(acctB, time.Hour, time.Hour)
			again.TokenHash = s.TokenHash
			wantCode(t, "CreateSession with a token hash in use", f.b.CreateSession(f.ctx, again), references.CodeConflict)
			if got := f.session(s.TokenHash); !sameSession(got, s) {
				t.Errorf("the first session after the conflict = %+v, want %+v", got, s)
			}
		})

		t.Run("CreateDeletesTheAccountsExpiredSessionsOnly", func(t *testing.T) {
			f := setup(t, open)
			idle, life := 30*time.Minute, 12*time.Hour
			// Each made at Start, then moved as its name says; the sign-in comes at
			// Start+2h.
			signIn := Start.Add(2 * time.Hour)
			type made struct {
				name    string
				acct    string
				touch   time.Time // zero: never touched
				idle    time.Duration
				life    time.Duration
				deleted bool
			}
			cases := []made{
				{"idle past", acctA, Start.Add(time.Hour), idle, life, true},
				{"idle ends at the sign-in", acctA, signIn.Add(-idle), idle, life, true},
				{"idle ends a second after", acctA, signIn.Add(-idle + time.Second), idle, life, false},
				{"never touched, idle past", acctA, time.Time{}, idle, life, true},
				{"touched recently, made long ago", acctA, signIn.Add(-time.Minute), idle, life, false},
				{"lifetime ends at the sign-in", acctA, signIn.Add(-time.Minute), idle, 2 * time.Hour, true},
				{"lifetime ends a second after", acctA, signIn.Add(-time.Minute), idle, 2*time.Hour + time.Second, false},
				{"another account's, idle past", acctB, Start.Add(time.Hour), idle, life, false},
				{"another account's, lifetime past", acctB, signIn.Add(-time.Minute), idle, time.Hour, false},
			}
			sessions := make([]references.Session, len(cases))
			for i, c := range cases {
				s := f.newSession(c.acct, c.idle, c.life)
				f.createSession(s)
				if !c.touch.IsZero() {
					if err := f.b.TouchSession(f.ctx, s.TokenHash, c.touch); err != nil {
						t.Fatalf("TouchSession %s: %v", c.name, err)
					}
					s.LastSeenAt = c.touch
				}
				sessions[i] = s
			}
			f.clk.Set(signIn)
			fresh := f.newSession(acctA, idle, life)
			f.createSession(fresh)
			if got := f.session(fresh.TokenHash); !sameSession(got, fresh) {
				t.Errorf("the new session = %+v, want %+v", got, fresh)
			}
			for i, c := range cases {
				got, err := f.b.GetSession(f.ctx, sessions[i].TokenHash)
				switch {
				case c.deleted && !errors.Is(err, references.ErrNotFound):
					t.Errorf("%s: GetSession after another sign-in of its account = %+v, %v; want ErrNotFound", c.name, got, err)
				case !c.deleted && (err != nil || !sameSession(got, sessions[i])):
					t.Errorf("%s: GetSession after a sign-in = %+v, %v; want it kept as it was %+v", c.name, got, err, sessions[i])
				}
			}
		})
	})
}

// newSession returns a session of a new key of the account, made now, with the
// given idle time and lifetime, as the Service makes them.
func (f *fixture) newSession(accountID string, idle, lifetime time.Duration) references.Session {
	f.t.Helper()
	k := f.createKey(accountID, nil)
	now := f.now()
	token := references.NewID("tok_")
	return references.Session{
		TokenHash: references.HashAPIKey(token), AccountID: accountID, KeyID: k.ID, KeyHash: k.Hash,
		CSRFToken: references.NewID("csrf_"), CreatedAt: now, LastSeenAt: now, Idle: idle, ExpiresAt: now.Add(lifetime),
	}
}

func (f *fixture) createSession(s references.Session) {
	f.t.Helper()
	if err := f.b.CreateSession(f.ctx, s); err != nil {
		f.t.Fatalf("CreateSession: %v", err)
	}
}

// session reads a session, failing the test if it cannot.
func (f *fixture) session(tokenHash string) references.Session {
	f.t.Helper()
	s, err := f.b.GetSession(f.ctx, tokenHash)
	if err != nil {
		f.t.Fatalf("GetSession: %v", err)
	}
	return s
}

// sameSession compares sessions field by field, times by their instant.
func sameSession(a, b references.Session) bool {
	return a.TokenHash == b.TokenHash && a.AccountID == b.AccountID && a.KeyID == b.KeyID && a.KeyHash == b.KeyHash &&
		a.CSRFToken == b.CSRFToken && a.CreatedAt.Equal(b.CreatedAt) && a.LastSeenAt.Equal(b.LastSeenAt) &&
		a.Idle == b.Idle && a.ExpiresAt.Equal(b.ExpiresAt)
}

// runSessionPrune: retention deletes the ended sessions of every account, as many as
// its Max lets it, and no live one.
func runSessionPrune(t *testing.T, open Opener) {
	t.Run("PruneDeletesEndedSessionsOfEveryAccount", func(t *testing.T) {
		f := setup(t, open)
		idle, life := 30*time.Minute, 12*time.Hour
		var ended, live []references.Session
		for _, acct := range []string{acctA, acctB} {
			for range 2 {
				s := f.newSession(acct, idle, life)
				f.createSession(s)
				ended = append(ended, s)
			}
		}
		f.clk.Set(Start.Add(time.Hour)) // the four above are idle for an hour
		for _, acct := range []string{acctA, acctB} {
			s := f.newSession(acct, idle, life)
			if err := f.b.CreateSession(f.ctx, s); err != nil {
				t.Fatal(err)
			}
			live = append(live, s)
		}
		// CreateSession cleared the ended ones of both accounts: make more, ended at
		// the prune, that no sign-in will clear.
		ended = ended[:0]
		for _, acct := range []string{acctA, acctB} {
			for range 2 {
				s := f.newSession(acct, idle, time.Minute)
				f.createSession(s)
				ended = append(ended, s)
			}
		}
		at := f.now().Add(time.Minute)
		got, err := f.b.Prune(f.ctx, references.PruneRequest{Sessions: at, Max: 3})
		if err != nil || got.Sessions != 3 || got.Total() != 3 {
			t.Fatalf("Prune(max 3) = %+v, %v; want 3 sessions", got, err)
		}
		got, err = f.b.Prune(f.ctx, references.PruneRequest{Sessions: at, Max: 100})
		if err != nil || got.Sessions != 1 {
			t.Fatalf("second Prune = %+v, %v; want the last ended session", got, err)
		}
		for _, s := range ended {
			if _, err := f.b.GetSession(f.ctx, s.TokenHash); !errors.Is(err, references.ErrNotFound) {
				t.Errorf("ended session of %s: %v, want ErrNotFound", s.AccountID, err)
			}
		}
		for _, s := range live {
			if got := f.session(s.TokenHash); !sameSession(got, s) {
				t.Errorf("live session of %s = %+v, want it kept", s.AccountID, got)
			}
		}
	})
}
