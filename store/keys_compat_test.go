package store

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

// TestOpen_V1KeysKeepTheirRights: keys written before scopes existed read as they
// worked: the admin key as an operator key with the admin scope, a plain key with
// write; nothing else of theirs is set, and their records are not rewritten.
func TestOpen_V1KeysKeepTheirRights(t *testing.T) {
	type want struct {
		scopes   []references.Scope
		operator bool
		revoked  bool
	}
	wants := map[string]want{
		"key_v1alphaadmin":   {[]references.Scope{references.ScopeAdmin}, true, false},
		"key_v1alpharevoked": {[]references.Scope{references.ScopeWrite}, false, true},
		"key_v1beta":         {[]references.Scope{references.ScopeWrite}, false, false},
	}
	for _, fixture := range v1Fixtures {
		t.Run(filepath.Base(fixture), func(t *testing.T) {
			db := openV1Copy(t, fixture)
			keys, err := db.ListAPIKeys(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != len(wants) {
				t.Fatalf("%d keys, want %d", len(keys), len(wants))
			}
			for _, k := range keys {
				w := wants[k.ID]
				if !slices.Equal(k.Scopes, w.scopes) || k.Operator != w.operator || (k.RevokedAt != nil) != w.revoked {
					t.Errorf("%s: scopes %v operator %v revoked %v; want %v %v %v", k.ID, k.Scopes, k.Operator, k.RevokedAt != nil, w.scopes, w.operator, w.revoked)
				}
				if k.Name != "" || k.ExpiresAt != nil || k.LastUsedAt != nil || k.CreatedBy != "" {
					t.Errorf("%s: name %q, expiry %v, last used %v, created by %q; want none", k.ID, k.Name, k.ExpiresAt, k.LastUsedAt, k.CreatedBy)
				}
				if k.ID == "key_v1alphaadmin" && (!k.Grants(references.ScopeRead) || !k.Grants(references.ScopeWrite) || !k.Grants(references.ScopeAdmin)) {
					t.Errorf("the v1 admin key does not grant every scope: %v", k.Scopes)
				}
				if k.ID == "key_v1beta" && (!k.Grants(references.ScopeWrite) || k.Grants(references.ScopeAdmin)) {
					t.Errorf("the v1 plain key: scopes %v, want write without admin", k.Scopes)
				}
			}
		})
	}
}

// TestOpen_V1StoreKeepsAnAuditLog: a file of an earlier schema gets the audit buckets
// at Open, and its accounts' logs start at 1.
func TestOpen_V1StoreKeepsAnAuditLog(t *testing.T) {
	db := openV1Copy(t, v1Fixture)
	ctx := context.Background()
	for _, acct := range v1Accounts {
		if got, err := db.ListAudit(ctx, acct, 0, 10); err != nil || len(got) != 0 {
			t.Fatalf("audit of %s on a v1 file: %+v, %v; want empty", acct, got, err)
		}
	}
	_, key := references.NewAPIKey("acct_beta", []references.Scope{references.ScopeRead}, v1Now)
	key.CreatedBy = references.ActorCLI
	if err := db.CreateAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RevokeAPIKey(ctx, references.KeyRevocation{Key: "key_v1alphaadmin", Actor: references.ActorCLI, At: v1Now.Add(time.Minute)}); err == nil {
		t.Error("revoking the only admin key of acct_alpha was allowed")
	}
	got, err := db.ListAudit(ctx, "acct_beta", 0, 10)
	if err != nil || len(got) != 1 || got[0].Sequence != 1 || got[0].Action != references.AuditKeyCreated || got[0].TargetID != key.ID {
		t.Fatalf("audit of acct_beta after a key was made: %+v, %v", got, err)
	}
	if got, _ := db.ListAudit(ctx, "acct_alpha", 0, 10); len(got) != 0 {
		t.Errorf("a refused revocation was audited: %+v", got)
	}
}
