package notifier

import "strings"

// HeaderDelivery is the response header with which a receiver steers the delivery
// to an account endpoint, as Svix receivers do: "abort-message" stops the retries of
// the message just sent, "disable" disables the endpoint. Other values are ignored;
// so is the header on a reference's callback.
const HeaderDelivery = "webhook-delivery"

// Control is what a receiver asked for in its webhook-delivery header.
type Control struct {
	// AbortMessage: do not try this message again (it is failed, as aborted). It
	// applies to an answer that is not 2xx: a delivered message is delivered.
	AbortMessage bool
	// Disable: disable the endpoint; its messages wait until it is enabled again.
	Disable bool
}

// parseControl reads the values of the webhook-delivery header: comma-separated
// tokens, in any case, with spaces around them; unknown tokens are ignored, so a
// receiver may send both, or values of a later version.
func parseControl(values []string) Control {
	var c Control
	for _, v := range values {
		for token := range strings.SplitSeq(v, ",") {
			switch token = strings.TrimSpace(token); {
			case strings.EqualFold(token, "abort-message"):
				c.AbortMessage = true
			case strings.EqualFold(token, "disable"):
				c.Disable = true
			}
		}
	}
	return c
}
