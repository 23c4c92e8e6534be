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

// Values of the webhook-delivery header.
const (
	controlAbortMessage = "abort-message"
	controlDisable      = "disable"
)

// parseControl reads the values of the webhook-delivery header: comma-separated
// tokens, in any case, with spaces or tabs around them, as HTTP lists are written.
// Unknown tokens are ignored, so a receiver may send both values, or values of a
// later version. Only ASCII letters fold: strings.EqualFold alone would also take
// "diſable" (a long s) for disable.
func parseControl(values []string) Control {
	var c Control
	for _, v := range values {
		for token := range strings.SplitSeq(v, ",") {
			switch token = strings.Trim(token, " \t"); {
			case asciiEqualFold(token, controlAbortMessage):
				c.AbortMessage = true
			case asciiEqualFold(token, controlDisable):
				c.Disable = true
			}
		}
	}
	return c
}

// asciiEqualFold reports whether s is want (lower-case ASCII) with any ASCII letters
// in upper case.
func asciiEqualFold(s, want string) bool {
	if len(s) != len(want) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}
