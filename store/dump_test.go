package store

import "testing"

// TestDump_CoversEveryBucket fails when a bucket is added that `store copy` does not
// know of: Dump must read it, or Load derive it, or the copy leave it out on purpose
// (see the list in dump.go), or a copy would lose it.
func TestDump_CoversEveryBucket(t *testing.T) {
	copied := map[string]bool{}
	for _, name := range []string{
		// Read by Dump.
		"meta", "accounts", "api_keys", "audit", "audit_sequence", "endpoints", "refs", "shipments",
		"updates", "account_update_seq", "idempotency", "attempts", "account_events",
		"account_event_seq", "messages", "endpoint_pending", "delivery_state", "endpoint_streams",
		"redeliver", "endpoint_resend", "push_deletions",
		// Derived by Load.
		"refs_by_account", "refs_by_ident", "due", "updates_by_time", "account_updates",
		"idempotency_by_expiry", "outbox", "attempts_by_time", "unsubscribed_by_time",
		"active_by_account", "endpoints_by_account", "messages_by_time", "message_ids",
		"ref_search_facts", "refs_by_eta", "refs_by_number", "refs_by_status", "push_deletions_due",
		// Not copied, on purpose (see dump.go): console sign-ins belong to the store
		// they were made in; after a copy people sign in again.
		"sessions", "sessions_by_account",
	} {
		copied[name] = true
	}
	for _, b := range allBuckets {
		if !copied[string(b)] {
			t.Errorf("bucket %s is not copied by store copy: read it in dump.go or derive it in load.go, and list it here", b)
		}
	}
}
