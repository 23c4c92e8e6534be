package references

import "context"

// Shipment returns the latest snapshot of the account's reference. Before the first
// successful poll there is none: a not-found error saying so ("no snapshot yet"), as
// for another account's reference.
func (s *Service) Shipment(ctx context.Context, accountID, id string) (Shipment, error) {
	if _, err := s.store.GetReference(ctx, accountID, id); err != nil {
		return Shipment{}, err
	}
	snap, err := s.store.Shipment(ctx, id)
	if err != nil {
		return Shipment{}, err
	}
	if snap == nil {
		return Shipment{}, Errorf(CodeNotFound, "reference %s has no snapshot yet: it has not been polled successfully", id)
	}
	return *snap, nil
}
