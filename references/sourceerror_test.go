package references_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trackhook/trackhook/references"
)

func TestSourceError_MatchesItsKindAndWrapsItsCause(t *testing.T) {
	t.Parallel()
	cause := fmt.Errorf("GET /v2/events: %w", context.DeadlineExceeded)
	var err error = &references.SourceError{Kind: references.ErrSourceUnavailable, RetryAfter: time.Minute, Err: cause}
	err = fmt.Errorf("dcsa MAEU: %w", err)

	if err.Error() != "dcsa MAEU: GET /v2/events: context deadline exceeded" {
		t.Errorf("text %q: want the cause's text, without the kind", err)
	}
	if !errors.Is(err, references.ErrSourceUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is does not find the kind and the cause in %v", err)
	}
	for _, other := range []error{references.ErrSourceRateLimited, references.ErrSourceBadAnswer, references.ErrSourceBadRequest, references.ErrShipmentNotFound} {
		if errors.Is(err, other) {
			t.Errorf("errors.Is(err, %q) = true for an unavailable source", other)
		}
	}
	var se *references.SourceError
	if !errors.As(err, &se) || se.RetryAfter != time.Minute {
		t.Errorf("errors.As did not find the SourceError with its RetryAfter in %v", err)
	}
}

func TestSourceError_WithoutCauseSaysItsKind(t *testing.T) {
	t.Parallel()
	err := &references.SourceError{Kind: references.ErrSourceRateLimited}
	if err.Error() != "rate limited by the source" || !errors.Is(err, references.ErrSourceRateLimited) {
		t.Errorf("err %q", err)
	}
}
