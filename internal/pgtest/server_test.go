package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestStartServer_StopsAndStartsAgain: the private server answers, refuses
// connections while stopped, and answers again on the same URL once started.
func TestStartServer_StopsAndStartsAgain(t *testing.T) {
	s := StartServer(t)
	ping := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.URL)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		return conn.Ping(ctx)
	}
	if err := ping(); err != nil {
		t.Fatalf("a started server: %v\n%s", err, s.Log())
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := ping(); err == nil {
		t.Fatal("a stopped server answered")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := ping(); err != nil {
		t.Fatalf("a server started again: %v\n%s", err, s.Log())
	}
}

// TestStartServer_CrashKeepsEveryCommit: what a commit acknowledged is there after
// Crash, as a crash test needs (the last commits before an immediate stop are the
// ones an asynchronous commit would lose).
func TestStartServer_CrashKeepsEveryCommit(t *testing.T) {
	s := StartServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE acked (n int)"); err != nil {
		t.Fatal(err)
	}
	const commits = 500
	for n := range commits {
		if _, err := conn.Exec(ctx, "INSERT INTO acked VALUES ($1)", n); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Crash(); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	conn, err = pgx.Connect(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var got int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM acked").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != commits {
		t.Fatalf("after a crash %d of %d acknowledged commits are left", got, commits)
	}
}
