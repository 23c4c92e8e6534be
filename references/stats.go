package references

import "time"

// Stats are a store's counts, for operators: GET /admin/status, `trackhook status` and
// the metrics read them. The store keeps them as it changes, so reading them costs
// the same whatever its size.
type Stats struct {
	ActiveReferences       int64
	UnsubscribedReferences int64
	// PendingDeliveries is how many delivery streams (a reference's callback, or an
	// endpoint's stream of a reference or of operational events) have at least one
	// update or message waiting, for its first attempt or a retry: the depth of the
	// delivery queue. A disabled endpoint's streams count while they wait.
	PendingDeliveries int64
	// FileBytes is the size of the store file.
	FileBytes int64
	// Commits is how many write transactions the store has committed since it was
	// created. Polls that change nothing add none.
	Commits int64
	// Pruned counts what retention deleted since the store was created, by kind.
	Pruned PruneCounts
	// LastPruneAt is when retention last pruned (whether or not it found anything to
	// delete), nil before the first prune.
	LastPruneAt *time.Time
}
