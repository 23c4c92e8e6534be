package references

import (
	"context"
	"time"
)

// AuditEntry is one entry of an account's audit log: an operation on its API keys or
// signing secrets, or on its endpoints, and who did it.
type AuditEntry struct {
	Sequence  uint64 // 1, 2, 3 ... per account
	AccountID string
	At        time.Time
	// Actor is who acted: the id of the API key a request came with, ActorCLI or
	// ActorSystem. Never a key's text.
	Actor    string
	Action   AuditAction
	TargetID string // the key, endpoint or account acted on
}

// AuditAction names what an audit entry records.
type AuditAction string

// The audited actions.
const (
	AuditKeyCreated            AuditAction = "key.created"
	AuditKeyRevoked            AuditAction = "key.revoked"
	AuditWebhookSecretRotated  AuditAction = "webhook_secret.rotated" // the account's; TargetID is the account
	AuditEndpointCreated       AuditAction = "endpoint.created"
	AuditEndpointDeleted       AuditAction = "endpoint.deleted"
	AuditEndpointSecretRotated AuditAction = "endpoint.secret_rotated"
)

// AuditActions returns every audited action.
func AuditActions() []AuditAction {
	return []AuditAction{
		AuditKeyCreated, AuditKeyRevoked, AuditWebhookSecretRotated,
		AuditEndpointCreated, AuditEndpointDeleted, AuditEndpointSecretRotated,
	}
}

// Actors that are not API keys.
const (
	// ActorCLI is the trackhook keys command, run on the store by its operator.
	ActorCLI = "cli"
	// ActorSystem is trackhook itself: serve registering its first key at start, or
	// a caller that named no actor (see WithActor).
	ActorSystem = "system"
)

type actorKey struct{}

// WithActor returns ctx naming who acts in it; the api package sets the id of the
// request's API key. The Service writes it in the audit log of what it changes.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor WithActor set, or ActorSystem.
func ActorFrom(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return ActorSystem
}

// AuditPage is one page of an account's audit log, oldest first.
type AuditPage struct {
	Entries   []AuditEntry
	NextAfter uint64 // pass as ?after= to continue
}
