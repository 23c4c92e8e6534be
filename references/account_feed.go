package references

import (
	"context"
	"strings"
)

// AccountUpdate is one entry of an account's feed: an update of any of its references,
// with its place in the account's sequence.
type AccountUpdate struct {
	// AccountSequence is 1, 2, 3 ... per account, given when the update is appended
	// to its reference's feed, in the same write.
	AccountSequence uint64
	Update          Update
}

// AccountUpdateQuery selects a page of an account's feed.
type AccountUpdateQuery struct {
	After uint64 // account sequence to continue after
	Limit int    // 0: DefaultPageSize
	// Types keeps the updates whose type or one of whose tags matches a pattern (see
	// UpdateMatchesTypes); empty keeps all. Filtering does not move the cursor
	// differently: NextAfter still passes over what the filter dropped.
	Types []string
}

// AccountUpdatePage is one page of an account's feed, in account sequence order.
type AccountUpdatePage struct {
	Updates []AccountUpdate
	// NextAfter is the account sequence of the last entry read, returned or not: a
	// read is bounded, so a page may be short (even empty) while more follow.
	NextAfter uint64
	// LastSequence is the account's latest sequence; NextAfter below it means more.
	LastSequence uint64
	// OldestAvailable is the lowest account sequence still stored (0 when none):
	// retention removes old updates, and the numbers below it are gone for good.
	OldestAvailable uint64
}

// UpdateMatchesTypes reports whether the update's type or one of its tags (with no
// threshold on ETA moves) matches one of the patterns, as an endpoint's event_types
// do (MatchEventType). No patterns match everything.
func UpdateMatchesTypes(u *Update, patterns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	var tags []string
	if u.Type == UpdateShipment {
		tags = u.Tags(0)
	}
	return matchesAny(patterns, string(u.Type), tags)
}

// ParseUpdateTypes reads the types filter of the account feed: a comma-separated list
// of update types, tags and wildcards matching at least one of them. Empty gives nil.
func ParseUpdateTypes(raw string) ([]string, error) {
	if raw == "" {
		return nil, nil
	}
	if len(raw) > maxUpdateTypesLen {
		return nil, Invalidf("types", "must be at most %d characters", maxUpdateTypesLen)
	}
	names := make([]string, 0, len(UpdateTypes)+len(Tags))
	for _, t := range UpdateTypes {
		names = append(names, string(t))
	}
	names = append(names, Tags...)
	var out []string
	for p := range strings.SplitSeq(raw, ",") {
		p = strings.TrimSpace(p)
		if !matchesAnyName(p, names) {
			return nil, Invalidf("types", "%q is not an update type, tag or wildcard matching one (see GET /event-types)", p)
		}
		out = append(out, p)
	}
	return out, nil
}

// maxUpdateTypesLen bounds the types filter of one query, far above any useful list.
const maxUpdateTypesLen = 1024

func matchesAnyName(pattern string, names []string) bool {
	if pattern == "" {
		return false
	}
	for _, name := range names {
		if MatchEventType(pattern, name) && (pattern == name || strings.HasSuffix(pattern, "*")) {
			return true
		}
	}
	return false
}

// AccountUpdates returns a page of the account feed (see FeedStore.ListAccountUpdates),
// the way to read every reference's updates without webhooks.
func (s *Service) AccountUpdates(ctx context.Context, accountID string, q AccountUpdateQuery) (AccountUpdatePage, error) {
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return AccountUpdatePage{}, err
	}
	q.Limit = limit
	return s.store.ListAccountUpdates(ctx, accountID, q)
}
