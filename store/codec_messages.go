package store

import (
	"encoding/json"

	"github.com/trackhook/trackhook/references"
)

// Endpoint messages and stream states are read and rewritten on every delivery to an
// endpoint, so they have the binary form of codec.go too (they were JSON before: a
// message with its attempt log took 25 µs to decode, see BENCHMARKS.md). Each is
// format 1 of its own bucket; a value that starts with '{' is one written as JSON
// before, and is read through its record (messageRecord, streamState's tags).
//
// A message's Tags and Attempts are omitted from JSON when empty, so nil and empty
// both come back nil here too.

// encodeMessage returns the stored form of m.
func encodeMessage(m *references.Message) []byte {
	e := newEncoder(96+len(m.Tags)*16+len(m.Attempts)*128, false)
	e.str(m.EndpointID)
	e.str(m.AccountID)
	e.str(m.ID)
	e.str(m.ReferenceID)
	e.uvarint(m.Sequence)
	e.str(m.EventType)
	e.uvarint(uint64(len(m.Tags)))
	for _, t := range m.Tags {
		e.str(t)
	}
	e.time(m.CreatedAt)
	e.str(string(m.Status))
	e.str(string(m.FailReason))
	e.timePtr(m.NextAttemptAt)
	e.str(m.BatchID)
	e.uvarint(uint64(len(m.Attempts)))
	for i := range m.Attempts {
		e.attempt(&m.Attempts[i])
	}
	return e.b
}

// decodeMessage reads a message in either stored form.
func decodeMessage(data []byte, m *references.Message) error {
	if isJSON(data) {
		var r messageRecord
		err := json.Unmarshal(data, &r)
		*m = r.message()
		return err
	}
	d := newDecoder(data)
	*m = references.Message{}
	m.EndpointID = d.str()
	m.AccountID = d.str()
	m.ID = d.str()
	m.ReferenceID = d.str()
	m.Sequence = d.uvarint()
	m.EventType = d.str()
	if n := d.count(1); n > 0 {
		m.Tags = make([]string, n)
		for i := range m.Tags {
			m.Tags[i] = d.str()
		}
	}
	m.CreatedAt = d.time()
	m.Status = references.MessageStatus(d.str())
	m.FailReason = references.AttemptOutcome(d.str())
	m.NextAttemptAt = d.timePtr()
	m.BatchID = d.str()
	if n := d.count(minAttemptSize); n > 0 {
		m.Attempts = make([]references.DeliveryAttempt, n)
		for i := range m.Attempts {
			d.attempt(&m.Attempts[i])
		}
	}
	return d.finish(data)
}

func (e *encoder) attempt(a *references.DeliveryAttempt) {
	e.str(a.Destination)
	e.str(a.ReferenceID)
	e.str(a.UpdateID)
	e.uvarint(a.Sequence)
	e.varint(int64(a.Attempt))
	e.str(a.URL)
	e.time(a.At)
	e.varint(int64(a.StatusCode))
	e.str(a.Error)
	e.varint(a.LatencyMS)
	e.str(a.ResponseBody)
	e.str(string(a.Outcome))
	e.timePtr(a.NextRetryAt)
	e.present(a.Redelivery)
	e.str(string(a.Disable))
}

// minAttemptSize is the fewest bytes an encoded attempt takes: a byte for each
// field, three for its time.
const minAttemptSize = 17

func (d *decoder) attempt(a *references.DeliveryAttempt) {
	a.Destination = d.str()
	a.ReferenceID = d.str()
	a.UpdateID = d.str()
	a.Sequence = d.uvarint()
	a.Attempt = int(d.varint())
	a.URL = d.str()
	a.At = d.time()
	a.StatusCode = int(d.varint())
	a.Error = d.str()
	a.LatencyMS = d.varint()
	a.ResponseBody = d.str()
	a.Outcome = references.AttemptOutcome(d.str())
	a.NextRetryAt = d.timePtr()
	a.Redelivery = d.present()
	a.Disable = references.DisabledReason(d.str())
}

// count reads a number of items written as uvarint(len), each taking at least
// minSize bytes, which bounds what a corrupt count can make us allocate.
func (d *decoder) count(minSize int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/minSize) {
		d.fail("count")
		return 0
	}
	return int(n)
}

// encodeStreamState returns the stored form of st.
func encodeStreamState(st *streamState) []byte {
	e := newEncoder(48+len(st.BatchID), false)
	e.time(st.DueAt)
	e.varint(int64(st.Attempts))
	e.timePtr(st.FirstAttemptAt)
	e.str(st.BatchID)
	e.uvarint(st.BatchEnd)
	return e.b
}

// decodeStreamState reads a stream state in either stored form.
func decodeStreamState(data []byte, st *streamState) error {
	if isJSON(data) {
		*st = streamState{}
		return json.Unmarshal(data, st)
	}
	d := newDecoder(data)
	st.DueAt = d.time()
	st.Attempts = int(d.varint())
	st.FirstAttemptAt = d.timePtr()
	st.BatchID = d.str()
	st.BatchEnd = d.uvarint()
	return d.finish(data)
}
