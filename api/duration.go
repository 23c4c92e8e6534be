package api

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a poll interval as the API reads and writes it: a Go duration string
// such as "15m" or "1h30m", the form people write in requests. It is written back in
// Go's own form ("15m0s").
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "15m0s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string such as "15m" or "2h".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"15m\" or \"2h\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"15m\" or \"2h\"", s)
	}
	*d = Duration(v)
	return nil
}
