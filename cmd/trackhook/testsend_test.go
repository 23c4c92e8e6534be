package main

import (
	"testing"

	"github.com/trackhook/trackhook/notifier"
)

// The notifier's test send is found by its method set: a notifier whose TestEndpoint
// had another signature would leave POST /endpoints/:id/test answering 503 in
// silence, so this test says it aloud.
func TestEndpointTest_IsTheNotifiersTestSend(t *testing.T) {
	if endpointTest(&notifier.Notifier{}) == nil {
		t.Fatal("*notifier.Notifier has no TestEndpoint(ctx, references.Endpoint) (references.DeliveryAttempt, error): POST /endpoints/:id/test would answer 503")
	}
	if endpointTest(nil) != nil {
		t.Fatal("a nil notifier gives a test send")
	}
}
