package dcsa3

import (
	"encoding/json"
	"slices"

	"github.com/trackhook/trackhook/poller/dcsa"
)

// Feedback is a CT 3.0 FeedbackElement: how a request was processed, in the error
// answers of a publisher and in trackhook's answer to a push.
type Feedback struct {
	// Severity is ERROR, WARN or INFO.
	Severity string `json:"severity"`
	Message  string `json:"message"`
	// PropertyPath is the JSONPath of the part of the request the feedback is
	// about ("$.events[2]"), "" when it is about the whole.
	PropertyPath string `json:"propertyPath,omitempty"`
}

// Severities of a Feedback.
const (
	SeverityError = "ERROR"
	SeverityWarn  = "WARN"
	SeverityInfo  = "INFO"
)

// feedbackDetails reads the feedbackElements of a CT 3.0 error answer
// (GetEventsError) as error details, errors first: "ERROR: message".
func feedbackDetails(body []byte) []dcsa.ErrorDetail {
	var w struct {
		FeedbackElements []struct {
			Severity     dcsa.Text `json:"severity"`
			Message      dcsa.Text `json:"message"`
			PropertyPath dcsa.Text `json:"propertyPath"`
		} `json:"feedbackElements"`
	}
	if json.Unmarshal(body, &w) != nil {
		return nil
	}
	var details []dcsa.ErrorDetail
	for _, f := range w.FeedbackElements {
		msg := string(f.Message)
		if f.PropertyPath != "" {
			msg += " (at " + string(f.PropertyPath) + ")"
		}
		d := dcsa.ErrorDetail{Reason: string(f.Severity), Message: msg}
		if d != (dcsa.ErrorDetail{}) {
			details = append(details, d)
		}
	}
	rank := func(d dcsa.ErrorDetail) int {
		switch d.Reason {
		case SeverityError:
			return 0
		case SeverityWarn:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(details, func(a, b dcsa.ErrorDetail) int { return rank(a) - rank(b) })
	return details
}
