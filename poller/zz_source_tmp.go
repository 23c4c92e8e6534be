package poller

import (
	"context"

	"github.com/trackhook/trackhook/references"
)

// Source is a throwaway copy of the lead's declaration, deleted once poller/source.go exists.
type Source interface {
	Fetch(ctx context.Context, ref references.Reference) (*references.Shipment, error)
}
