package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/notifier"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/store"
	"github.com/trackhook/trackhook/store/postgres"
)

// backend is a store serve, status and keys work on, bbolt's or PostgreSQL's: the
// storage contract, and what the notifier and status need beyond it (a delivery
// claimed on demand, the oldest waiting update).
type backend interface {
	references.Backend
	notifier.Store
	api.StatusReporter
}

var (
	_ backend = (*store.DB)(nil)
	_ backend = (*postgres.DB)(nil)
)

// errStoreInUse is why a store file did not open when its lock stayed held.
var errStoreInUse = errors.New("in use by another trackhook process (most likely a running trackhook serve)")

// openOptions is how a command opens its store.
type openOptions struct {
	// command names the PostgreSQL connections "trackhook <command>" in
	// pg_stat_activity; `store copy` looks for those of "trackhook serve".
	command string
	// lockTimeout bounds the wait for a bbolt file another process holds (store's
	// default when 0). PostgreSQL has no such lock: several processes share it.
	lockTimeout time.Duration
	logger      *slog.Logger
}

// openBackend opens the store --db names: PostgreSQL for a postgres:// or
// postgresql:// URL, otherwise the bbolt file at that path (created when missing).
// Errors never show the URL's password.
func openBackend(ctx context.Context, target string, o openOptions) (backend, error) {
	if !postgres.IsURL(target) {
		return openStore(target, store.Options{Timeout: o.lockTimeout, Logger: o.logger})
	}
	db, err := postgres.Open(ctx, target, postgres.Options{ApplicationName: "trackhook " + o.command, Logger: o.logger})
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", redactURL(target), scrubSecrets(err, target))
	}
	return db, nil
}

// openStore opens the store file at path. One process at a time may open a bbolt
// file, so a lock still held after opts.Timeout means that another trackhook process
// has it: the error then wraps errStoreInUse and says so, where bbolt only says
// "timeout".
func openStore(path string, opts store.Options) (*store.DB, error) {
	db, err := store.Open(path, opts)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store %s is %w", path, errStoreInUse)
	}
	return db, err
}

// redactedPassword stands for a password in what trackhook prints.
const redactedPassword = "xxxxx"

// redactURL returns target as it may be printed or logged: a PostgreSQL URL without
// its password (in the user info or as a password= parameter), a path as it is.
func redactURL(target string) string {
	if !postgres.IsURL(target) {
		return target
	}
	u, err := url.Parse(target)
	if err != nil || strings.Contains(u.Host+u.RawPath+u.Path+u.RawQuery+u.Fragment, "@") {
		// Unreadable, or read with an @ after the user info: a password with an
		// unescaped @ or /, say. Keep the scheme and the user and drop everything up
		// to the last @, which may all be password.
		scheme, rest, _ := strings.Cut(target, "://")
		at := strings.LastIndex(rest, "@")
		if at < 0 {
			return scheme + "://" + redactedPassword
		}
		user, _, _ := strings.Cut(rest[:at], ":")
		return scheme + "://" + user + ":" + redactedPassword + rest[at:]
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", redactedPassword)
		u.RawQuery = q.Encode()
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), redactedPassword)
	}
	return u.String()
}

// urlSecrets returns the passwords target holds, as written and decoded, for
// scrubSecrets.
func urlSecrets(target string) []string {
	var out []string
	add := func(s string) {
		if s != "" && s != redactedPassword {
			out = append(out, s)
		}
	}
	_, rest, _ := strings.Cut(target, "://")
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		_, pw, _ := strings.Cut(rest[:at], ":") // as redactURL reads an unreadable URL
		add(pw)
	}
	u, err := url.Parse(target)
	if err != nil {
		return out
	}
	if pw, ok := u.User.Password(); ok {
		add(pw)
		add(url.PathEscape(pw))
		add(url.QueryEscape(pw))
	}
	for _, pw := range u.Query()["password"] {
		add(pw)
		add(url.QueryEscape(pw))
	}
	return out
}

// scrubSecrets returns err with every password of target replaced in its message,
// for an error that quotes the URL (a driver's, say). errors.Is and errors.As still
// see the errors err wraps.
func scrubSecrets(err error, target string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range urlSecrets(target) {
		msg = strings.ReplaceAll(msg, s, redactedPassword)
	}
	if msg == err.Error() {
		return err
	}
	return scrubbed{msg: msg, err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (s scrubbed) Error() string { return s.msg }
func (s scrubbed) Unwrap() error { return s.err }
