package references

// CreateOptions are the conditions a backend checks in the transaction of a create.
type CreateOptions struct {
	// Idempotency, when set, makes a retried create return the reference the first
	// one made (see ReferenceStore.CreateReference).
	Idempotency *IdempotencyKey
	// MaxActive, when above 0, is the account's quota of active references: a create
	// that would make more is refused with QuotaExceeded. A replay of an earlier
	// create under the same Idempotency-Key is not refused; unsubscribing makes room.
	MaxActive int
}

// QuotaExceeded is the error of a create beyond the account's quota of active
// references, for every backend to return.
func QuotaExceeded(limit int) *Error {
	return Errorf(CodeQuotaExceeded, "this account may have at most %d active references; unsubscribe one (DELETE /references/{id}) to track another", limit)
}

// EndpointQuotaExceeded is the error of a create beyond the account's number of
// webhook endpoints, for every backend to return.
func EndpointQuotaExceeded(limit int) *Error {
	return Errorf(CodeQuotaExceeded, "this account may have at most %d webhook endpoints; delete one (DELETE /endpoints/{id}) to add another", limit)
}
