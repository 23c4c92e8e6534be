package store

import (
	"encoding/json"

	"github.com/trackhook/trackhook/references"
)

// Entries of the delivery log are written on every delivery attempt, in the commit
// that records it, so they have the binary form of codec.go too, format 1 of the
// attempts bucket: encoding one as JSON took about a fifth of the CPU of recording an
// attempt, and wrote twice the bytes. A value that starts with '{' is one written as
// JSON before, and is read through attemptRecord.

// encodeAttempt returns the stored form of a delivery log entry.
func encodeAttempt(a *references.DeliveryAttempt) []byte {
	e := newEncoder(64+len(a.ReferenceID)+len(a.UpdateID)+len(a.URL)+len(a.Error)+len(a.ResponseBody), false)
	e.attempt(a)
	return e.b
}

// decodeAttempt reads a delivery log entry in either stored form.
func decodeAttempt(data []byte, a *references.DeliveryAttempt) error {
	if isJSON(data) {
		var r attemptRecord
		err := json.Unmarshal(data, &r)
		*a = r.attempt()
		return err
	}
	d := newDecoder(data)
	*a = references.DeliveryAttempt{}
	d.attempt(a)
	return d.finish(data)
}
