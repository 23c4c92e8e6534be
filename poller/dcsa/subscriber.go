package dcsa

import (
	"context"
	"errors"
	"fmt"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/references"
)

// Subscriber returns the client's subscription operations as the poller keeps
// subscriptions with them: a Client is a poller.SubscriberSource. A subscription the
// carrier does not have is an error wrapping both ErrSubscriptionNotFound and
// poller.ErrSubscriptionNotFound.
func (c *Client) Subscriber() poller.Subscriber { return subscriber{c} }

type subscriber struct{ c *Client }

func (s subscriber) NewSecret() []byte { return NewSecret() }

// CreateSubscription subscribes to every event of ref (no event type filter: the
// reference's own filter is applied to the webhooks, not to what is tracked).
func (s subscriber) CreateSubscription(ctx context.Context, ref references.Reference, callbackURL string, secret []byte) (string, error) {
	sub, err := s.c.CreateSubscription(ctx, SubscriptionRequest{CallbackURL: callbackURL, Secret: secret, Reference: ref})
	if err != nil {
		return "", err
	}
	return sub.ID, nil
}

func (s subscriber) CheckSubscription(ctx context.Context, id string) error {
	_, err := s.c.GetSubscription(ctx, id)
	return notFound(err)
}

func (s subscriber) UpdateSecret(ctx context.Context, id string, secret []byte) error {
	return notFound(s.c.UpdateSecret(ctx, id, secret))
}

func (s subscriber) DeleteSubscription(ctx context.Context, id string) error {
	return notFound(s.c.DeleteSubscription(ctx, id))
}

// notFound marks an error of a subscription the carrier does not have for the poller.
func notFound(err error) error {
	if errors.Is(err, ErrSubscriptionNotFound) {
		return fmt.Errorf("%w: %w", poller.ErrSubscriptionNotFound, err)
	}
	return err
}
