package main

import (
	"context"

	"github.com/trackhook/trackhook/references"
)

// testSender is what POST /endpoints/:id/test needs of the notifier: an
// endpoint.test event sent to the endpoint now, and the receiver's answer.
type testSender interface {
	TestEndpoint(ctx context.Context, ep references.Endpoint) (references.DeliveryAttempt, error)
}

// endpointTest returns the Service's TestEndpoint option: n's test send, or nil (the
// route then answers 503) when n cannot send one.
func endpointTest(n any) func(context.Context, references.Endpoint) (references.DeliveryAttempt, error) {
	if t, ok := n.(testSender); ok {
		return t.TestEndpoint
	}
	return nil
}
