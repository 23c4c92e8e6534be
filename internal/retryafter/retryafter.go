// Package retryafter reads the Retry-After header of an HTTP response (RFC 9110,
// section 10.2.3): the notifier honours it from webhook receivers, the DCSA source
// from carriers.
package retryafter

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Max is the longest delay Parse returns. Larger values, in seconds or as a date, are
// cut to Max, so that converting them cannot overflow a time.Duration. Callers with a
// tighter policy cap the result further.
const Max = 30 * 24 * time.Hour

// Parse reads a Retry-After value, whole seconds or an HTTP date taken relative to
// now, and returns the delay it asks for, in [0, Max]. A date in the past asks for no
// delay (0, true). ok is false for an empty value and for anything that is neither
// form ("-5", "1.5", "30s", "tomorrow"); d is then 0.
func Parse(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 64)
		switch {
		case errors.Is(err, strconv.ErrRange):
			return Max, true // all digits, beyond uint64
		case err != nil:
			return 0, false
		case secs > uint64(Max/time.Second):
			return Max, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), Max), true
}
