package references

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// APIKey is an API key as stored: only its SHA-256 hash and a short prefix for display
// are kept, never the key itself.
type APIKey struct {
	ID        string // key_...
	AccountID string
	Name      string // optional, the owner's label ("CI", "dashboard")
	Prefix    string // the first characters of the key, to recognise it
	Hash      string // hex SHA-256 of the key
	Scopes    []Scope
	// Operator keys also reach the operator routes (/admin/*, /metrics), which show
	// every account's data. Only the keys command and serve make them, never the API,
	// so no account can give itself a key to the whole store.
	Operator  bool
	CreatedAt time.Time
	CreatedBy string     // who made it: a key id, ActorCLI or ActorSystem
	ExpiresAt *time.Time // nil: never
	// LastUsedAt is when the key last authenticated a request, written at most once a
	// minute (see ServiceOptions.KeyUsed): it may be a minute or two behind.
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// Expired reports whether the key's expiry has passed at now.
func (k *APIKey) Expired(now time.Time) bool {
	return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)
}

// LiveAt reports whether the key authenticates at now: neither revoked nor expired.
func (k *APIKey) LiveAt(now time.Time) bool { return k.RevokedAt == nil && !k.Expired(now) }

// Grants reports whether the key has scope s, itself or through a higher one.
func (k *APIKey) Grants(s Scope) bool {
	return s.rank() > 0 && slices.ContainsFunc(k.Scopes, func(g Scope) bool { return g.rank() >= s.rank() })
}

// Scope is a right of an API key. Scopes nest: admin implies write, which implies read.
type Scope string

// The scopes, weakest first.
const (
	// ScopeRead reads: the GET routes of references, feeds, endpoints and messages.
	ScopeRead Scope = "read"
	// ScopeWrite also changes: every other route of references, endpoints and the
	// account, and reads the signing secrets.
	ScopeWrite Scope = "write"
	// ScopeAdmin also manages the account's API keys and reads its audit log.
	ScopeAdmin Scope = "admin"
)

// Scopes returns every scope, weakest first.
func Scopes() []Scope { return []Scope{ScopeRead, ScopeWrite, ScopeAdmin} }

// rank orders the scopes; 0 for a name that is not one.
func (s Scope) rank() int {
	switch s {
	case ScopeRead:
		return 1
	case ScopeWrite:
		return 2
	case ScopeAdmin:
		return 3
	}
	return 0
}

// ParseScopes reads the scopes a client asks for: at least one, each read, write or
// admin. Duplicates are dropped; the result is weakest first. A lower scope beside a
// higher one is kept as given (["read","write"] grants what ["write"] does).
func ParseScopes(names []string) ([]Scope, error) {
	if len(names) == 0 {
		return nil, Invalidf("scopes", `give at least one of "read", "write" and "admin"`)
	}
	var out []Scope
	for _, n := range names {
		s := Scope(n)
		if s.rank() == 0 {
			return nil, Invalidf("scopes", `%q is not a scope: give "read", "write" or "admin"`, truncate(n, 32))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Scope) int { return a.rank() - b.rank() })
	return out, nil
}

// ParseScopeList reads scopes written as a comma-separated list ("read,write"), the
// form of the keys command's --scopes flag. Spaces around a name are ignored.
func ParseScopeList(list string) ([]Scope, error) {
	var names []string
	if strings.TrimSpace(list) != "" {
		for n := range strings.SplitSeq(list, ",") {
			names = append(names, strings.TrimSpace(n))
		}
	}
	return ParseScopes(names)
}

// Bounds of a key's lifetime, and of its name.
const (
	MinKeyLifetime = time.Minute
	MaxKeyLifetime = 3650 * 24 * time.Hour // ten years
	MaxKeyNameLen  = 64                    // characters
)

// ParseKeyLifetime reads how long a new key lives: whole days ("90d") or a Go
// duration ("12h", "1h30m"), between MinKeyLifetime and MaxKeyLifetime. Go durations
// stop at hours, and key lifetimes are counted in days.
func ParseKeyLifetime(s string) (time.Duration, error) {
	const hint = `a lifetime such as "90d" or "12h"`
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 32)
		if err != nil {
			return 0, Invalidf("expires_in", "%q is not %s", truncate(s, 32), hint)
		}
		if n > uint64(MaxKeyLifetime/(24*time.Hour)) {
			return 0, Invalidf("expires_in", "must be at most %dd", int(MaxKeyLifetime/(24*time.Hour)))
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, Invalidf("expires_in", "%q is not %s", truncate(s, 32), hint)
		}
	}
	if d < MinKeyLifetime || d > MaxKeyLifetime {
		return 0, Invalidf("expires_in", "must be between 1m and %dd", int(MaxKeyLifetime/(24*time.Hour)))
	}
	return d, nil
}

// ValidateKeyName checks a key's optional name: at most MaxKeyNameLen characters of
// printable text, so it shows as written in lists and logs.
func ValidateKeyName(name string) error {
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxKeyNameLen {
		return Invalidf("name", "must be at most %d characters of UTF-8 text", MaxKeyNameLen)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return Invalidf("name", "must be printable text, without control characters or line breaks")
		}
	}
	return nil
}

// CheckRevoke applies the rule of revoking a key, given every key of its account:
// the last live admin key cannot be revoked, so an account that manages its keys
// through the API is never locked out of it. Revoking a key that is no longer live
// is always allowed (and changes nothing). Backends call it inside the transaction
// that revokes.
func CheckRevoke(key APIKey, account []APIKey, at time.Time) error {
	if !key.LiveAt(at) || !key.Grants(ScopeAdmin) {
		return nil
	}
	for _, k := range account {
		if k.ID != key.ID && k.LiveAt(at) && k.Grants(ScopeAdmin) {
			return nil
		}
	}
	return Errorf(CodeConflict, "%s is the account's last live admin key: create another admin key first "+
		`(POST /account/keys with "scopes":["admin"], or trackhook keys create --scopes admin), then revoke this one`, key.ID)
}

// KeyRevocation asks a backend to revoke one API key.
type KeyRevocation struct {
	// AccountID limits the revocation to this account's keys (another account's is
	// ErrNotFound); empty for any account (the keys command).
	AccountID string
	// Key is the key's id (key_...) or, 8 characters or more, the start of the
	// prefix of exactly one key.
	Key   string
	Actor string // written in the audit log
	At    time.Time
}

// APIKeyUse is when a key, named by its hash, last authenticated a request.
type APIKeyUse struct {
	Hash string
	At   time.Time
}

// truncate shortens s to at most n bytes for an error message, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// ScopeNames returns the names of scopes, for messages and lists.
func ScopeNames(scopes []Scope) []string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = string(s)
	}
	return out
}

// PickKey returns the one key of keys whose id is idOrPrefix, or whose prefix starts
// with it (8 characters or more: shorter would too often match several).
func PickKey(keys []APIKey, idOrPrefix string) (APIKey, error) {
	var found APIKey
	matches := 0
	for _, k := range keys {
		if k.ID == idOrPrefix || (len(idOrPrefix) >= 8 && strings.HasPrefix(k.Prefix, idOrPrefix)) {
			found = k
			matches++
		}
	}
	switch {
	case matches == 0:
		return found, Errorf(CodeNotFound, "no API key with id or prefix %q", idOrPrefix)
	case matches > 1:
		return found, Errorf(CodeConflict, "%q matches %d keys: give the key id", idOrPrefix, matches)
	}
	return found, nil
}
