package tracking

import (
	"strings"
	"time"

	"github.com/trackhook/trackhook/references"
)

// fieldChange describes a shipment-level field going from old to cur (either may be
// empty: not known).
func fieldChange(t references.ChangeType, what, old, cur string) references.Change {
	var d string
	switch {
	case old == "":
		d = what + " is " + cur
	case cur == "":
		d = what + " no longer known (was " + old + ")"
	default:
		d = what + " changed from " + old + " to " + cur
	}
	if t == references.ChangeETAChanged && old != "" && cur != "" {
		d = what + " moved from " + old + " to " + cur
	}
	return references.Change{Type: t, Description: capitalize(d), Old: old, New: cur}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func stampPtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return stamp(*t)
}

// locationLabel names a location for people: "NLRTM (Rotterdam)".
func locationLabel(l *references.Location) string {
	if l == nil {
		return ""
	}
	code, name := strings.TrimSpace(l.UNLocode), strings.TrimSpace(l.Name)
	switch {
	case code != "" && name != "":
		return code + " (" + name + ")"
	case code != "":
		return code
	}
	return name
}

// VesselLabel names a vessel for people and receivers: "NORDIC AURORA (IMO 9434761)",
// the name or "IMO 9434761" alone when only one is known, "" for nil. The change
// summaries and the console's shipment page write vessels alike with it.
func VesselLabel(tc *references.TransportCall) string {
	if tc == nil {
		return ""
	}
	name, imo := strings.TrimSpace(tc.VesselName), strings.TrimSpace(tc.VesselIMO)
	switch {
	case name != "" && imo != "":
		return name + " (IMO " + imo + ")"
	case imo != "":
		return "IMO " + imo
	}
	return name
}

// milestone names the milestone of e for people: "vessel arrival at NLRTM (NORDIC
// AURORA 412W)".
func milestone(e *references.Event) string {
	s := eventName(e)
	if code := LocationKey(e.Location); code != "" {
		s += " at " + code
	}
	if tc := e.TransportCall; tc != nil {
		v := strings.TrimSpace(strings.TrimSpace(tc.VesselName) + " " + strings.TrimSpace(tc.Voyage))
		if v == "" {
			v = strings.TrimSpace(tc.VesselIMO)
		}
		if v != "" {
			s += " (" + v + ")"
		}
	}
	if eq := strings.TrimSpace(e.EquipmentReference); eq != "" {
		s += " for " + eq
	}
	return s
}

// eventName says what an event code means in words; unknown codes are shown as they
// are. Only gate moves say whether the container was empty or laden.
func eventName(e *references.Event) string {
	code := norm(e.Code)
	if e.Type == references.EventShipment {
		if w := references.DocumentStatusWord(code); w != "" {
			return "document " + w + " (" + code + ")"
		}
		return "document status " + code
	}
	name := references.EventCodeWord(code)
	if name == "" {
		return "event " + code
	}
	if code == references.CodeGateIn || code == references.CodeGateOut {
		if w := references.EmptyIndicatorWord(norm(e.EmptyIndicator)); w != "" {
			return w + " " + name
		}
	}
	return name
}

// classifierWord is the classifier in words, "reported" when it is none of DCSA's.
func classifierWord(c references.Classifier) string {
	if w := c.Word(); w != "" {
		return w
	}
	return "reported"
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
