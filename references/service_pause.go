package references

import "context"

// Refresh makes an active reference due for a poll at once and wakes the poller; it
// returns without waiting for the poll, whose result shows in the reference and its
// feed. At most one refresh per reference is allowed per RefreshInterval
// (*RefreshTooSoon); a paused or unsubscribed reference is a conflict.
func (s *Service) Refresh(ctx context.Context, accountID, id string) (Reference, error) {
	ref, err := s.store.RequestPoll(ctx, accountID, id, s.opts.Now().UTC())
	if err != nil {
		return Reference{}, err
	}
	s.pollRequested()
	return ref, nil
}

// Pause stops polling and delivering a reference until Resume. Its feed stays
// readable, its identifier reserved, and it counts towards the quota of active
// references; the time paused does not count towards the maximum tracking age.
// Pausing a paused reference is not an error.
func (s *Service) Pause(ctx context.Context, accountID, id string) (Reference, error) {
	return s.store.PauseReference(ctx, accountID, id, s.opts.Now().UTC())
}

// Resume makes a paused reference active again and polls it at once; pending
// deliveries go on where they stopped. Resuming an active reference is not an error.
func (s *Service) Resume(ctx context.Context, accountID, id string) (Reference, error) {
	ref, err := s.store.ResumeReference(ctx, accountID, id, s.opts.Now().UTC())
	if err != nil {
		return Reference{}, err
	}
	s.pollRequested()
	return ref, nil
}

func (s *Service) pollRequested() {
	if s.opts.PollRequested != nil {
		s.opts.PollRequested()
	}
}
