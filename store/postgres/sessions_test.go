package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/pgtest"
	"github.com/trackhook/trackhook/references"
)

// openTestDB opens a new migrated database with the database's clock.
func openTestDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), pgtest.NewDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A session reads back as stored, with its idle time to the nanosecond; a touch moves
// LastSeenAt on and never back; a duplicate token hash is a conflict that changes
// nothing, not even the expired sessions it would have deleted.
func TestSessions_StoreTouchAndConflict(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s := references.Session{
		TokenHash: "hash_1", AccountID: "acct_a", KeyID: "key_1", KeyHash: "khash_1", CSRFToken: "csrf_1",
		CreatedAt: at, LastSeenAt: at, Idle: 30*time.Minute + 7, ExpiresAt: at.Add(12 * time.Hour),
	}
	if err := db.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got, err := db.GetSession(ctx, "hash_1"); err != nil || got != s {
		t.Fatalf("GetSession = %+v, %v; want %+v", got, err, s)
	}
	for _, tc := range []struct {
		at   time.Time
		want time.Time
	}{
		{at.Add(time.Minute), at.Add(time.Minute)},
		{at.Add(time.Second), at.Add(time.Minute)}, // never back
		{at.Add(time.Minute), at.Add(time.Minute)}, // the same: nothing to write
		{at.Add(2 * time.Minute), at.Add(2 * time.Minute)},
	} {
		if err := db.TouchSession(ctx, "hash_1", tc.at); err != nil {
			t.Fatalf("TouchSession(%s): %v", tc.at, err)
		}
		if got, err := db.GetSession(ctx, "hash_1"); err != nil || !got.LastSeenAt.Equal(tc.want) {
			t.Fatalf("after TouchSession(%s): LastSeenAt %s, %v; want %s", tc.at, got.LastSeenAt, err, tc.want)
		}
	}

	// An expired session of the account, and a sign-in whose token hash is taken.
	old := s
	old.TokenHash, old.CreatedAt, old.LastSeenAt, old.ExpiresAt = "hash_old", at.Add(-13*time.Hour), at.Add(-13*time.Hour), at.Add(-time.Hour)
	if err := db.CreateSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	dup := s
	dup.CreatedAt, dup.CSRFToken = at.Add(3*time.Minute), "csrf_other"
	wantCode(t, "CreateSession with a taken token hash", db.CreateSession(ctx, dup), references.CodeConflict)
	if got, err := db.GetSession(ctx, "hash_1"); err != nil || got.CSRFToken != "csrf_1" {
		t.Fatalf("the conflict changed the session: %+v, %v", got, err)
	}
	if _, err := db.GetSession(ctx, "hash_old"); err != nil {
		t.Fatalf("the refused sign-in deleted an expired session: %v", err)
	}

	if err := db.DeleteSession(ctx, "hash_1"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSession(ctx, "hash_1"); err != nil {
		t.Fatalf("deleting a deleted session: %v", err)
	}
	_, err := db.GetSession(ctx, "hash_1")
	wantCode(t, "GetSession after DeleteSession", err, references.CodeNotFound)
	wantCode(t, "TouchSession after DeleteSession", db.TouchSession(ctx, "hash_1", at.Add(time.Hour)), references.CodeNotFound)
}

// A sign-in deletes the account's sessions that have ended at its time, by either
// expiry and at the exact instant, and keeps the live ones and other accounts'.
func TestSessions_SignInDeletesTheAccountsExpiredSessions(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	mk := func(hash, account string, lastSeen time.Time, idle time.Duration, expires time.Time) references.Session {
		return references.Session{TokenHash: hash, AccountID: account, KeyID: "key", KeyHash: "khash", CSRFToken: "csrf",
			CreatedAt: lastSeen.Add(-time.Hour), LastSeenAt: lastSeen, Idle: idle, ExpiresAt: expires}
	}
	sessions := []struct {
		s    references.Session
		kept bool
	}{
		{mk("idle_ended", "acct_a", now.Add(-30*time.Minute), 30*time.Minute, now.Add(time.Hour)), false},
		{mk("idle_ends_later", "acct_a", now.Add(-30*time.Minute+time.Microsecond), 30*time.Minute, now.Add(time.Hour)), true},
		{mk("lifetime_ended", "acct_a", now.Add(-time.Minute), 30*time.Minute, now), false},
		{mk("lifetime_ends_later", "acct_a", now.Add(-time.Minute), 30*time.Minute, now.Add(time.Microsecond)), true},
		{mk("other_account", "acct_b", now.Add(-time.Hour), 30*time.Minute, now.Add(-time.Minute)), true},
	}
	for _, c := range sessions {
		if err := db.CreateSession(ctx, c.s); err != nil {
			t.Fatalf("CreateSession(%s): %v", c.s.TokenHash, err)
		}
	}
	for _, c := range sessions {
		if c.s.ExpiredAt(now) == c.kept && c.s.AccountID == "acct_a" {
			t.Fatalf("case %s: ExpiredAt(now) = %v: the case is wrong", c.s.TokenHash, c.s.ExpiredAt(now))
		}
	}
	signIn := mk("new", "acct_a", now, 30*time.Minute, now.Add(12*time.Hour))
	signIn.CreatedAt = now
	if err := db.CreateSession(ctx, signIn); err != nil {
		t.Fatal(err)
	}
	for _, c := range append(sessions, struct {
		s    references.Session
		kept bool
	}{signIn, true}) {
		_, err := db.GetSession(ctx, c.s.TokenHash)
		if kept := err == nil; kept != c.kept {
			t.Errorf("session %s: kept = %v (%v), want %v", c.s.TokenHash, kept, err, c.kept)
		}
	}
}

// wantCode fails the test unless err is a references error of code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := references.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

// Retention deletes ended sessions in the order they ended, whichever end came first
// (idle or absolute), as many as Max lets it, and keeps a live one.
func TestPruneSessions_EndedFirstGoFirst(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	mk := func(hash string, lastSeen time.Time, idle time.Duration, expires time.Time) {
		t.Helper()
		s := references.Session{TokenHash: hash, AccountID: "acct_" + hash, KeyID: "key", KeyHash: "khash", CSRFToken: "csrf",
			CreatedAt: lastSeen, LastSeenAt: lastSeen, Idle: idle, ExpiresAt: expires}
		if err := db.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	mk("idle_3h_ago", at.Add(-4*time.Hour), time.Hour, at.Add(8*time.Hour))
	mk("expired_2h_ago", at.Add(-10*time.Minute), time.Hour, at.Add(-2*time.Hour))
	mk("idle_1h_ago", at.Add(-90*time.Minute), 30*time.Minute, at.Add(8*time.Hour))
	mk("live", at.Add(-10*time.Minute), time.Hour, at.Add(8*time.Hour))
	for _, tc := range []struct {
		max  int
		gone []string
	}{
		{1, []string{"idle_3h_ago"}},
		{1, []string{"expired_2h_ago"}},
		{10, []string{"idle_1h_ago"}},
		{10, nil},
	} {
		got, err := db.Prune(ctx, references.PruneRequest{Sessions: at, Max: tc.max})
		if err != nil || got.Sessions != int64(len(tc.gone)) {
			t.Fatalf("Prune(max %d) = %+v, %v; want %d sessions", tc.max, got, err, len(tc.gone))
		}
		for _, h := range tc.gone {
			_, err := db.GetSession(ctx, h)
			wantCode(t, "GetSession of pruned "+h, err, references.CodeNotFound)
		}
	}
	if _, err := db.GetSession(ctx, "live"); err != nil {
		t.Fatalf("the live session: %v", err)
	}
}
