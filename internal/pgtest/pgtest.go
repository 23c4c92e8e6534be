// Package pgtest gives tests a PostgreSQL database of their own, on the server named by
// TRACKHOOK_TEST_POSTGRES (a postgres:// URL of a role that may create databases).
// .ci/run starts a throwaway server and sets the variable; a developer may point it at
// any server. Without it, tests that need PostgreSQL skip with the reason, except in
// CI (CI=true), where they fail: there a missing server is a broken setup, not a choice.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the variable naming the test server.
const EnvURL = "TRACKHOOK_TEST_POSTGRES"

// ServerURL returns the test server's URL, or skips t (fails it when CI=true).
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: .ci/run starts a PostgreSQL server for the tests", EnvURL)
		}
		t.Skipf("no PostgreSQL server: set %s=postgres://... to run this test", EnvURL)
	}
	return u
}

// NewDatabase creates an empty database on the test server and returns its URL; the
// database is dropped when t ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	server := ServerURL(t)
	name := "trackhook_test_" + randomSuffix(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("connect to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("connect to drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return WithDatabase(t, server, name)
}

// WithDatabase returns server's URL with its database replaced by name.
func WithDatabase(t testing.TB, server, name string) string {
	t.Helper()
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomSuffix(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
