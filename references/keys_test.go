package references

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAPIKey_GrantsNestedScopes(t *testing.T) {
	tests := []struct {
		scopes []Scope
		want   []Scope // granted, of read, write, admin
	}{
		{nil, nil},
		{[]Scope{ScopeRead}, []Scope{ScopeRead}},
		{[]Scope{ScopeWrite}, []Scope{ScopeRead, ScopeWrite}},
		{[]Scope{ScopeRead, ScopeWrite}, []Scope{ScopeRead, ScopeWrite}},
		{[]Scope{ScopeAdmin}, []Scope{ScopeRead, ScopeWrite, ScopeAdmin}},
		{[]Scope{"root"}, nil},
	}
	for _, tt := range tests {
		k := APIKey{Scopes: tt.scopes}
		var got []Scope
		for _, s := range Scopes() {
			if k.Grants(s) {
				got = append(got, s)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("scopes %v grant %v, want %v", tt.scopes, got, tt.want)
		}
		if k.Grants("") || k.Grants("root") {
			t.Errorf("scopes %v grant a scope that does not exist", tt.scopes)
		}
	}
}

func TestAPIKey_LiveAt(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Hour), now.Add(-time.Hour)
	tests := []struct {
		name string
		key  APIKey
		want bool
	}{
		{"plain", APIKey{}, true},
		{"expires later", APIKey{ExpiresAt: &later}, true},
		{"expires now", APIKey{ExpiresAt: &now}, false},
		{"expired", APIKey{ExpiresAt: &earlier}, false},
		{"revoked", APIKey{RevokedAt: &earlier}, false},
	}
	for _, tt := range tests {
		if got := tt.key.LiveAt(now); got != tt.want {
			t.Errorf("%s: LiveAt = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseScopes(t *testing.T) {
	tests := []struct {
		in      []string
		want    []Scope
		wantErr bool
	}{
		{[]string{"read"}, []Scope{ScopeRead}, false},
		{[]string{"admin", "read"}, []Scope{ScopeRead, ScopeAdmin}, false},
		{[]string{"write", "write", "read", "write"}, []Scope{ScopeRead, ScopeWrite}, false},
		{nil, nil, true},
		{[]string{}, nil, true},
		{[]string{""}, nil, true},
		{[]string{"Read"}, nil, true},
		{[]string{"read", "operator"}, nil, true},
		{[]string{" read"}, nil, true},
	}
	for _, tt := range tests {
		got, err := ParseScopes(tt.in)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("ParseScopes(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && (!errors.Is(err, ErrInvalid) || err.(*Error).Field != "scopes") {
			t.Errorf("ParseScopes(%q): error %v, want invalid on scopes", tt.in, err)
		}
	}
}

func TestParseScopeList(t *testing.T) {
	tests := []struct {
		in      string
		want    []Scope
		wantErr bool
	}{
		{"read", []Scope{ScopeRead}, false},
		{"read,write", []Scope{ScopeRead, ScopeWrite}, false},
		{" admin , read ", []Scope{ScopeRead, ScopeAdmin}, false},
		{"", nil, true},
		{"  ", nil, true},
		{"read,", nil, true},
		{"read;write", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseScopeList(tt.in)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("ParseScopeList(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseKeyLifetime(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"90d", 90 * day, false},
		{"1d", day, false},
		{"3650d", 3650 * day, false},
		{"12h", 12 * time.Hour, false},
		{"1h30m", 90 * time.Minute, false},
		{"1m", time.Minute, false},
		{"59s", 0, true},
		{"0d", 0, true},
		{"3651d", 0, true},
		{"87601h", 0, true},
		{"-1d", 0, true},
		{"+1d", 0, true},
		{"1.5d", 0, true},
		{"d", 0, true},
		{"", 0, true},
		{"90", 0, true},
		{"99999999999999999999d", 0, true},
		{"1w", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseKeyLifetime(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseKeyLifetime(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && ErrorCode(err) != CodeInvalid {
			t.Errorf("ParseKeyLifetime(%q): error %v, want invalid", tt.in, err)
		}
	}
}

func TestValidateKeyName(t *testing.T) {
	for _, ok := range []string{"", "CI", "dashboard de l'équipe", strings.Repeat("é", MaxKeyNameLen)} {
		if err := ValidateKeyName(ok); err != nil {
			t.Errorf("ValidateKeyName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"a\nb", "tab\there", "\x00", strings.Repeat("a", MaxKeyNameLen+1), "\xff"} {
		if err := ValidateKeyName(bad); err == nil {
			t.Errorf("ValidateKeyName(%q) accepted", bad)
		}
	}
}

func TestCheckRevoke_KeepsTheLastLiveAdminKey(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	past := now.Add(-time.Minute)
	key := func(id string, s Scope, mod ...func(*APIKey)) APIKey {
		k := APIKey{ID: id, Scopes: []Scope{s}}
		for _, m := range mod {
			m(&k)
		}
		return k
	}
	revoked := func(k *APIKey) { k.RevokedAt = &past }
	expired := func(k *APIKey) { k.ExpiresAt = &past }
	tests := []struct {
		name    string
		target  APIKey
		others  []APIKey
		refused bool
	}{
		{"a write key", key("k1", ScopeWrite), nil, false},
		{"the only admin key", key("k1", ScopeAdmin), []APIKey{key("k2", ScopeWrite)}, true},
		{"one of two admin keys", key("k1", ScopeAdmin), []APIKey{key("k2", ScopeAdmin)}, false},
		{"the other admin key is revoked", key("k1", ScopeAdmin), []APIKey{key("k2", ScopeAdmin, revoked)}, true},
		{"the other admin key expired", key("k1", ScopeAdmin), []APIKey{key("k2", ScopeAdmin, expired)}, true},
		{"an expired admin key itself", key("k1", ScopeAdmin, expired), nil, false},
		{"a revoked admin key itself", key("k1", ScopeAdmin, revoked), nil, false},
	}
	for _, tt := range tests {
		account := append([]APIKey{tt.target}, tt.others...)
		err := CheckRevoke(tt.target, account, now)
		if refused := err != nil; refused != tt.refused {
			t.Errorf("%s: CheckRevoke = %v, want refused %v", tt.name, err, tt.refused)
		}
		if err != nil && (!errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "create another admin key first")) {
			t.Errorf("%s: error %v, want a conflict that says what to do", tt.name, err)
		}
	}
}

// FuzzParseScopeList: any text gives scopes that are known, unique and in order, or
// an invalid error on the scopes field; never a panic.
func FuzzParseScopeList(f *testing.F) {
	for _, seed := range []string{"read", "read,write", " admin , read ", "", ",", "read,,write", "READ", "admin,admin", "\xff"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, list string) {
		got, err := ParseScopeList(list)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalid || e.Field != "scopes" || e.Message == "" {
				t.Fatalf("ParseScopeList(%q): error %v", list, err)
			}
			return
		}
		if len(got) == 0 || len(got) > 3 {
			t.Fatalf("ParseScopeList(%q) = %v", list, got)
		}
		for i, s := range got {
			if s.rank() == 0 || (i > 0 && s.rank() <= got[i-1].rank()) {
				t.Fatalf("ParseScopeList(%q) = %v: unknown, repeated or out of order", list, got)
			}
		}
	})
}

// FuzzParseKeyLifetime: any text gives a lifetime within the bounds, or an invalid
// error on expires_in; never a panic.
func FuzzParseKeyLifetime(f *testing.F) {
	for _, seed := range []string{"90d", "12h", "1h30m", "0d", "-1d", "3651d", "18446744073709551616d", "1e3h", ".5h", "d", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseKeyLifetime(s)
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Code != CodeInvalid || e.Field != "expires_in" {
				t.Fatalf("ParseKeyLifetime(%q): error %v", s, err)
			}
			return
		}
		if d < MinKeyLifetime || d > MaxKeyLifetime {
			t.Fatalf("ParseKeyLifetime(%q) = %v, outside [%v, %v]", s, d, MinKeyLifetime, MaxKeyLifetime)
		}
	})
}
