package demo

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/trackhook/trackhook/references"
)

// estimateLead is how long before its planned time a milestone is published as an
// estimate rather than a plan.
const estimateLead = 7 * 24 * time.Hour

// events returns what the carrier publishes about the voyage at simulated time at:
//   - a milestone whose actual time has passed is ACT at that time;
//   - one planned less than estimateLead ahead, and the arrival of a vessel under
//     way, is EST: at the planned time plus the delays announced so far, plus the
//     error of the carrier's latest revision while a vessel it depends on sails
//     (see revise.go);
//   - any other is PLN at its planned time.
//
// Like some real carriers, the demo publishes a revised estimate under a new event id;
// plans and actuals keep theirs.
func (v *voyage) events(at time.Time) []references.Event {
	revised := v.revisions(at)
	out := make([]references.Event, 0, len(v.milestones))
	for i := range v.milestones {
		m := &v.milestones[i]
		actual, estimate, revision := v.actualTime(i), v.knownTime(i, at), 0
		for l, lg := range v.legs[:m.delayedBy] {
			if lg.delay > 0 && !at.Before(lg.revealed) {
				revision++
			}
			estimate = estimate.Add(revised[l].offset)
			revision += revised[l].n
		}
		e := references.Event{
			Type:               m.typ,
			Code:               m.code,
			Location:           copyLocation(m.location),
			EquipmentReference: m.equipment,
			ISOEquipmentCode:   m.iso,
			EmptyIndicator:     m.empty,
		}
		underWay := false
		if m.leg >= 0 {
			tc := v.legs[m.leg].call
			e.TransportCall = &tc
			underWay = v.legs[m.leg].arrive == i && revised[m.leg].sailing
		}
		switch {
		case !at.Before(actual):
			e.Classifier, e.Time = references.ClassifierActual, actual
			revision = 0
		case underWay || !at.Before(m.planned.Add(-estimateLead)):
			e.Classifier, e.Time = references.ClassifierEstimated, estimate
		default:
			e.Classifier, e.Time = references.ClassifierPlanned, m.planned
			revision = 0
		}
		e.ID = v.eventID(i, e.Classifier, revision)
		out = append(out, e)
	}
	return out
}

// eventID is a UUID-shaped id, stable for one milestone, classifier and revision.
func (v *voyage) eventID(milestone int, c references.Classifier, revision int) string {
	in := make([]byte, 0, 32)
	in = binary.BigEndian.AppendUint64(in, v.seed)
	in = binary.BigEndian.AppendUint32(in, uint32(milestone))
	in = binary.BigEndian.AppendUint32(in, uint32(revision))
	in = append(in, c...)
	b := sha256.Sum256(in)
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	hex.Encode(out[9:13], b[4:6])
	hex.Encode(out[14:18], b[6:8])
	hex.Encode(out[19:23], b[8:10])
	hex.Encode(out[24:36], b[10:16])
	out[8], out[13], out[18], out[23] = '-', '-', '-', '-'
	return string(out[:])
}

func copyLocation(l *references.Location) *references.Location {
	if l == nil {
		return nil
	}
	c := *l
	return &c
}
