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
	"fmt"
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
	url, drop, err := CreateDatabase(context.Background(), server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Error(err)
		}
	})
	return url
}

// CreateDatabase creates an empty database on the server at server and returns its
// URL and the function that drops it, for callers that manage its life themselves.
func CreateDatabase(ctx context.Context, server string) (dbURL string, drop func() error, err error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	name := "trackhook_test_" + hex.EncodeToString(b)
	if err := execOn(ctx, server, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(server)
	if err != nil {
		return "", nil, fmt.Errorf("%s is not a URL: %w", EnvURL, err)
	}
	u.Path = "/" + name
	drop = func() error {
		if err := execOn(context.Background(), server, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	return u.String(), drop, nil
}

// execOn runs one statement on its own connection to server.
func execOn(ctx context.Context, server, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return fmt.Errorf("connect to the test server: %w", err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
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
