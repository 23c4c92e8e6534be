package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// runKeys exercises the API keys of the AccountStore: what a key holds, revocation
// and its rules, and last-used times.
func runKeys(t *testing.T, open Opener) {
	t.Run("APIKeys", func(t *testing.T) {
		t.Run("EveryFieldReadsBackAsStored", func(t *testing.T) {
			expires := Start.Add(90 * 24 * time.Hour)
			tests := []struct {
				name string
				mod  func(*references.APIKey)
			}{
				{"read", func(k *references.APIKey) { k.Scopes = scopes(references.ScopeRead) }},
				{"write", func(k *references.APIKey) { k.Scopes = scopes(references.ScopeWrite) }},
				{"admin", func(k *references.APIKey) { k.Scopes = scopes(references.ScopeAdmin) }},
				{"read and write", func(k *references.APIKey) { k.Scopes = scopes(references.ScopeRead, references.ScopeWrite) }},
				{"operator", func(k *references.APIKey) { k.Scopes, k.Operator = scopes(references.ScopeAdmin), true }},
				{"operator with more scopes", func(k *references.APIKey) {
					k.Scopes, k.Operator = scopes(references.ScopeWrite, references.ScopeAdmin), true
				}},
				{"named, expiring, made by a key", func(k *references.APIKey) {
					k.Scopes, k.Name, k.ExpiresAt, k.CreatedBy = scopes(references.ScopeRead), "dashboard é", &expires, "key_maker"
				}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					f := setup(t, open)
					_, k := references.NewAPIKey(acctA, nil, f.now())
					tt.mod(&k)
					if err := f.b.CreateAPIKey(f.ctx, k); err != nil {
						t.Fatal(err)
					}
					got, err := f.b.LookupAPIKey(f.ctx, k.Hash)
					if err != nil || !sameKey(got, k) {
						t.Errorf("LookupAPIKey = %+v, %v; want %+v", got, err, k)
					}
					f.restart()
					if list := f.listKeys(acctA); len(list) != 1 || !sameKey(list[0], k) {
						t.Errorf("ListAPIKeys after a restart = %+v; want %+v", list, k)
					}
				})
			}
		})

		t.Run("UnknownHashIsNotFound", func(t *testing.T) {
			f := setup(t, open)
			if _, err := f.b.LookupAPIKey(f.ctx, references.HashAPIKey("thk_unknown")); !errors.Is(err, references.ErrNotFound) {
				t.Errorf("LookupAPIKey of an unknown hash: %v, want ErrNotFound", err)
			}
		})

		t.Run("AccountMustExistAndScopesBeGiven", func(t *testing.T) {
			f := setup(t, open)
			_, k := references.NewAPIKey("acct_nope", scopes(references.ScopeWrite), f.now())
			if err := f.b.CreateAPIKey(f.ctx, k); !errors.Is(err, references.ErrNotFound) {
				t.Errorf("CreateAPIKey for an unknown account: %v, want ErrNotFound", err)
			}
			_, k = references.NewAPIKey(acctA, nil, f.now())
			if err := f.b.CreateAPIKey(f.ctx, k); !errors.Is(err, references.ErrInvalid) {
				t.Errorf("CreateAPIKey without scopes: %v, want ErrInvalid", err)
			}
			if keys := f.listKeys(""); len(keys) != 0 {
				t.Errorf("keys stored: %+v", keys)
			}
		})

		t.Run("ListPerAccountInCreationOrderAndCount", func(t *testing.T) {
			f := setup(t, open)
			var ids []string
			for i, acct := range []string{acctA, acctB, acctA, acctA} {
				k := f.createKey(acct, func(k *references.APIKey) { k.CreatedAt = Start.Add(time.Duration(3-i) * time.Minute) })
				ids = append(ids, k.ID)
			}
			if got, want := keyIDs(f.listKeys(acctA)), []string{ids[3], ids[2], ids[0]}; !slices.Equal(got, want) {
				t.Errorf("ListAPIKeys(%s) = %q, want %q (creation order)", acctA, got, want)
			}
			if got, want := keyIDs(f.listKeys("")), []string{ids[3], ids[2], ids[1], ids[0]}; !slices.Equal(got, want) {
				t.Errorf(`ListAPIKeys("") = %q, want every key %q`, got, want)
			}
			f.revokeKey(references.KeyRevocation{Key: ids[1]})
			if n, err := f.b.CountAPIKeys(f.ctx); err != nil || n != 3 {
				t.Errorf("CountAPIKeys = %d, %v; want 3 not revoked", n, err)
			}
		})

		t.Run("RevokeByIDOrUniquePrefix", func(t *testing.T) {
			f := setup(t, open)
			k1 := f.createKey(acctA, func(k *references.APIKey) { k.Prefix = "thk_AAAA1111" })
			k2 := f.createKey(acctA, func(k *references.APIKey) { k.Prefix = "thk_BBBB2222" })
			f.clk.Advance(time.Minute)
			got := f.revokeKey(references.KeyRevocation{Key: k1.ID})
			if got.ID != k1.ID || got.RevokedAt == nil || !got.RevokedAt.Equal(f.now()) {
				t.Fatalf("revoke by id = %+v; want %s revoked at %v", got, k1.ID, f.now())
			}
			if got := f.revokeKey(references.KeyRevocation{Key: "thk_BBBB"}); got.ID != k2.ID || got.RevokedAt == nil {
				t.Fatalf("revoke by prefix = %+v; want %s revoked", got, k2.ID)
			}
			for _, k := range []references.APIKey{k1, k2} {
				if read, err := f.b.LookupAPIKey(f.ctx, k.Hash); err != nil || read.RevokedAt == nil {
					t.Errorf("LookupAPIKey(%s) after revoking = revoked %v, %v; want revoked", k.ID, read.RevokedAt, err)
				}
			}
		})

		t.Run("AmbiguousPrefixOrUnknownRevokesNothing", func(t *testing.T) {
			f := setup(t, open)
			f.createKey(acctA, func(k *references.APIKey) { k.Prefix = "thk_SAME1111" })
			f.createKey(acctA, func(k *references.APIKey) { k.Prefix = "thk_SAME2222" })
			if _, err := f.b.RevokeAPIKey(f.ctx, references.KeyRevocation{Key: "thk_SAME", At: f.now()}); !errors.Is(err, references.ErrConflict) {
				t.Errorf("revoke by a prefix of two keys: %v, want ErrConflict", err)
			}
			if _, err := f.b.RevokeAPIKey(f.ctx, references.KeyRevocation{Key: "key_nope", At: f.now()}); !errors.Is(err, references.ErrNotFound) {
				t.Errorf("revoke of an unknown key: %v, want ErrNotFound", err)
			}
			if n, err := f.b.CountAPIKeys(f.ctx); err != nil || n != 2 {
				t.Errorf("CountAPIKeys = %d, %v; want both keys still live", n, err)
			}
		})

		t.Run("AnotherAccountsKeyIsNotFound", func(t *testing.T) {
			f := setup(t, open)
			k := f.createKey(acctA, nil)
			for _, key := range []string{k.ID, k.Prefix} {
				_, err := f.b.RevokeAPIKey(f.ctx, references.KeyRevocation{AccountID: acctB, Key: key, At: f.now()})
				if !errors.Is(err, references.ErrNotFound) {
					t.Errorf("revoke %s as %s: %v, want ErrNotFound", key, acctB, err)
				}
			}
			if got := f.lookupKey(k.Hash); got.RevokedAt != nil {
				t.Errorf("%s was revoked by another account", k.ID)
			}
			if got := f.revokeKey(references.KeyRevocation{AccountID: acctA, Key: k.ID}); got.RevokedAt == nil {
				t.Errorf("revoke by its own account: %+v", got)
			}
		})

		t.Run("TheLastLiveAdminKeyIsKept", func(t *testing.T) {
			f := setup(t, open)
			admin := func(k *references.APIKey) { k.Scopes = scopes(references.ScopeAdmin) }
			first := f.createKey(acctA, admin)
			f.createKey(acctA, nil) // a write key does not count
			f.createKey(acctB, admin)
			expired := f.createKey(acctA, func(k *references.APIKey) {
				admin(k)
				at := f.now().Add(time.Minute)
				k.ExpiresAt = &at
			})
			f.clk.Advance(time.Hour)
			for _, accountID := range []string{acctA, ""} { // the API's way and the keys command's
				_, err := f.b.RevokeAPIKey(f.ctx, references.KeyRevocation{AccountID: accountID, Key: first.ID, At: f.now()})
				if !errors.Is(err, references.ErrConflict) {
					t.Fatalf("revoke the last live admin key (account %q): %v, want ErrConflict", accountID, err)
				}
			}
			if got := f.lookupKey(first.Hash); got.RevokedAt != nil {
				t.Fatal("the refused revocation revoked the key")
			}
			// A key that is no longer live may go; then, with another admin key, so may the first.
			f.revokeKey(references.KeyRevocation{AccountID: acctA, Key: expired.ID})
			second := f.createKey(acctA, admin)
			f.revokeKey(references.KeyRevocation{AccountID: acctA, Key: first.ID})
			if _, err := f.b.RevokeAPIKey(f.ctx, references.KeyRevocation{AccountID: acctA, Key: second.ID, At: f.now()}); !errors.Is(err, references.ErrConflict) {
				t.Errorf("revoke the new last admin key: %v, want ErrConflict", err)
			}
		})

		t.Run("TwoRevocationsAtOnceLeaveOneAdminKey", func(t *testing.T) {
			f := setup(t, open)
			admin := func(k *references.APIKey) { k.Scopes = scopes(references.ScopeAdmin) }
			keys := []references.APIKey{f.createKey(acctA, admin), f.createKey(acctA, admin)}
			var wg sync.WaitGroup
			errs := make([]error, len(keys))
			for i, k := range keys {
				wg.Go(func() {
					_, errs[i] = f.b.RevokeAPIKey(f.ctx, references.KeyRevocation{AccountID: acctA, Key: k.ID, At: f.now()})
				})
			}
			wg.Wait()
			refused := 0
			for _, err := range errs {
				if errors.Is(err, references.ErrConflict) {
					refused++
				} else if err != nil {
					t.Fatal(err)
				}
			}
			live := 0
			for _, k := range f.listKeys(acctA) {
				if k.LiveAt(f.now()) {
					live++
				}
			}
			if refused != 1 || live != 1 {
				t.Errorf("two admin keys revoked at once: %d refused, %d live; want 1 and 1", refused, live)
			}
		})

		t.Run("RevokingTwiceChangesNothing", func(t *testing.T) {
			f := setup(t, open)
			k := f.createKey(acctA, nil)
			first := f.revokeKey(references.KeyRevocation{Key: k.ID})
			f.clk.Advance(time.Hour)
			again := f.revokeKey(references.KeyRevocation{Key: k.ID})
			if again.RevokedAt == nil || !again.RevokedAt.Equal(*first.RevokedAt) {
				t.Errorf("revoked again at %v, want the first time %v kept", again.RevokedAt, first.RevokedAt)
			}
			if got := f.auditActions(acctA); !slices.Equal(got, []references.AuditAction{references.AuditKeyCreated, references.AuditKeyRevoked}) {
				t.Errorf("audit after revoking twice: %q, want one revocation", got)
			}
		})

		t.Run("RecordUseKeepsTheLatestTime", func(t *testing.T) {
			f := setup(t, open)
			k1, k2 := f.createKey(acctA, nil), f.createKey(acctB, nil)
			t1 := f.now().Add(2 * time.Minute)
			uses := []references.APIKeyUse{{Hash: k1.Hash, At: t1}, {Hash: k2.Hash, At: t1}, {Hash: "gone", At: t1}}
			if err := f.b.RecordAPIKeyUse(f.ctx, uses); err != nil {
				t.Fatal(err)
			}
			if err := f.b.RecordAPIKeyUse(f.ctx, []references.APIKeyUse{{Hash: k1.Hash, At: t1.Add(-time.Minute)}}); err != nil {
				t.Fatal(err)
			}
			for _, k := range []references.APIKey{k1, k2} {
				if got := f.lookupKey(k.Hash); got.LastUsedAt == nil || !got.LastUsedAt.Equal(t1) {
					t.Errorf("%s last used %v, want %v", k.ID, got.LastUsedAt, t1)
				}
			}
			revoked := f.revokeKey(references.KeyRevocation{Key: k2.ID})
			if err := f.b.RecordAPIKeyUse(f.ctx, []references.APIKeyUse{{Hash: k2.Hash, At: t1.Add(time.Minute)}}); err != nil {
				t.Fatal(err)
			}
			if got := f.lookupKey(k2.Hash); got.RevokedAt == nil || !got.RevokedAt.Equal(*revoked.RevokedAt) {
				t.Errorf("recording a use changed the revocation: %+v", got)
			}
			if err := f.b.RecordAPIKeyUse(f.ctx, nil); err != nil {
				t.Errorf("RecordAPIKeyUse of nothing: %v", err)
			}
		})
	})
}

// scopes is a list of scopes, for brevity.
func scopes(s ...references.Scope) []references.Scope { return s }

// sameKey reports whether two keys hold the same values (times compared as instants).
func sameKey(a, b references.APIKey) bool {
	eqTime := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	return a.ID == b.ID && a.AccountID == b.AccountID && a.Name == b.Name && a.Prefix == b.Prefix &&
		a.Hash == b.Hash && slices.Equal(a.Scopes, b.Scopes) && a.Operator == b.Operator &&
		a.CreatedAt.Equal(b.CreatedAt) && a.CreatedBy == b.CreatedBy && eqTime(a.ExpiresAt, b.ExpiresAt) &&
		eqTime(a.LastUsedAt, b.LastUsedAt) && eqTime(a.RevokedAt, b.RevokedAt)
}

func keyIDs(keys []references.APIKey) []string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return ids
}

// createKey stores a write key of the account made at the fixture's time, changed by
// mod first when it is not nil.
func (f *fixture) createKey(accountID string, mod func(*references.APIKey)) references.APIKey {
	f.t.Helper()
	_, k := references.NewAPIKey(accountID, scopes(references.ScopeWrite), f.now())
	k.CreatedBy = references.ActorCLI
	if mod != nil {
		mod(&k)
	}
	if err := f.b.CreateAPIKey(f.ctx, k); err != nil {
		f.t.Fatalf("CreateAPIKey(%s): %v", k.ID, err)
	}
	return k
}

func (f *fixture) listKeys(accountID string) []references.APIKey {
	f.t.Helper()
	keys, err := f.b.ListAPIKeys(f.ctx, accountID)
	if err != nil {
		f.t.Fatalf("ListAPIKeys(%q): %v", accountID, err)
	}
	return keys
}

func (f *fixture) lookupKey(hash string) references.APIKey {
	f.t.Helper()
	k, err := f.b.LookupAPIKey(f.ctx, hash)
	if err != nil {
		f.t.Fatalf("LookupAPIKey: %v", err)
	}
	return k
}

// revokeKey revokes as r says, at the fixture's time and by the keys command unless r
// names them, and fails the test on error.
func (f *fixture) revokeKey(r references.KeyRevocation) references.APIKey {
	f.t.Helper()
	if r.At.IsZero() {
		r.At = f.now()
	}
	if r.Actor == "" {
		r.Actor = references.ActorCLI
	}
	k, err := f.b.RevokeAPIKey(f.ctx, r)
	if err != nil {
		f.t.Fatalf("RevokeAPIKey(%+v): %v", r, err)
	}
	return k
}

// auditActions returns the actions of the account's whole audit log, in order.
func (f *fixture) auditActions(accountID string) []references.AuditAction {
	f.t.Helper()
	var out []references.AuditAction
	for _, e := range f.audit(accountID, 0, 1000) {
		out = append(out, e.Action)
	}
	return out
}

func (f *fixture) audit(accountID string, after uint64, limit int) []references.AuditEntry {
	f.t.Helper()
	entries, err := f.b.ListAudit(f.ctx, accountID, after, limit)
	if err != nil {
		f.t.Fatalf("ListAudit(%s, %d, %d): %v", accountID, after, limit, err)
	}
	return entries
}

// describeEntry words an audit entry for a test message.
func describeEntry(e references.AuditEntry) string {
	return fmt.Sprintf("#%d %s %s by %s at %s", e.Sequence, e.Action, e.TargetID, e.Actor, e.At.Format(time.RFC3339))
}
