package references

import "time"

// UpdateType is the kind of an update in a reference's feed; it is also the webhook
// event type.
type UpdateType string

// Update types.
const (
	UpdateShipment       UpdateType = "shipment.updated"
	UpdateTrackingFailed UpdateType = "tracking.failed"
	UpdateUnsubscribed   UpdateType = "reference.unsubscribed"
)

// UpdateTypes lists every update type, for validating event_types filters.
var UpdateTypes = []UpdateType{UpdateShipment, UpdateTrackingFailed, UpdateUnsubscribed}

// Update is one entry in a reference's feed: what changed, and the full snapshot after
// the change. GET /references/:id/updates returns it and a webhook carries it, in the
// wire form of webhook.Update.
type Update struct {
	ID          string // upd_...; also the webhook-id
	ReferenceID string
	Sequence    uint64 // 1, 2, 3 ... per reference, no gaps
	Type        UpdateType
	CreatedAt   time.Time

	Reference ReferenceSummary
	Changes   []Change
	Shipment  *Shipment

	// Error is set on tracking.failed: why the source could not be polled.
	Error string
	// UnsubscribeReason is set on reference.unsubscribed.
	UnsubscribeReason UnsubscribeReason
}

// UnsubscribedUpdate is the last update of a feed: reference.unsubscribed, saying why
// tracking stopped and when. A poll that ends tracking and UnsubscribeReference append
// it in the same write as the unsubscribe.
func UnsubscribedUpdate(reason UnsubscribeReason, at time.Time) Update {
	return Update{
		ID: NewID("upd_"), Type: UpdateUnsubscribed, CreatedAt: at,
		Changes: []Change{}, UnsubscribeReason: reason,
	}
}

// ReferenceSummary identifies the reference inside an update, with the metadata the
// user attached, so a receiver needs no second call to route it.
type ReferenceSummary struct {
	ID            string
	ContainerID   string
	BillOfLading  string
	BookingNumber string
	CarrierCode   string
	Metadata      map[string]string
}

// Summary returns the part of the reference that travels with each update.
func (r *Reference) Summary() ReferenceSummary {
	return ReferenceSummary{
		ID:            r.ID,
		ContainerID:   r.ContainerID,
		BillOfLading:  r.BillOfLading,
		BookingNumber: r.BookingNumber,
		CarrierCode:   r.CarrierCode,
		Metadata:      r.Metadata,
	}
}

// ChangeType is the kind of one change between two snapshots.
type ChangeType string

// Change types.
const (
	ChangeEventAdded       ChangeType = "event_added"       // a new milestone appeared
	ChangeEventRemoved     ChangeType = "event_removed"     // a planned or estimated milestone disappeared
	ChangeEstimateChanged  ChangeType = "estimate_changed"  // a PLN/EST time moved
	ChangeActualized       ChangeType = "estimate_actual"   // a PLN/EST milestone became ACT
	ChangeActualCorrected  ChangeType = "actual_corrected"  // an ACT time was corrected by the source
	ChangeVesselChanged    ChangeType = "vessel_changed"    // the current vessel changed
	ChangeVoyageChanged    ChangeType = "voyage_changed"    // the current voyage changed
	ChangeStatusChanged    ChangeType = "status_changed"    // the overall status changed
	ChangeETAChanged       ChangeType = "eta_changed"       // the ETA at destination changed
	ChangeLocationChanged  ChangeType = "location_changed"  // the current location changed
	ChangeContainerAdded   ChangeType = "container_added"   // a container joined the shipment
	ChangeContainerRemoved ChangeType = "container_removed" // the source no longer lists a container
)

// ChangeTypes lists every change type.
var ChangeTypes = []ChangeType{
	ChangeEventAdded, ChangeEventRemoved, ChangeEstimateChanged, ChangeActualized, ChangeActualCorrected,
	ChangeVesselChanged, ChangeVoyageChanged, ChangeStatusChanged, ChangeETAChanged, ChangeLocationChanged,
	ChangeContainerAdded, ChangeContainerRemoved,
}

// Change is one typed difference between two snapshots, with the old and new values
// written as strings (times in RFC 3339) and a sentence for humans.
type Change struct {
	Type        ChangeType
	Description string
	Old         string
	New         string
	// Container is the number of the container the change concerns: the container
	// of its event, a container added or removed, or whose own status or location
	// changed; "" for a change of the whole shipment (and of events without an
	// equipment reference, which concern every container).
	Container string
	// Event is the event the change is about, as it is in the new snapshot (or the old
	// one for a removal); nil for shipment-level changes.
	Event *Event
}

// DeliveryAttempt is one POST of an update to a destination, as kept in the delivery
// log of a reference's callback or in an endpoint's message.
type DeliveryAttempt struct {
	// Destination is DestinationCallback or the endpoint's id ("" in logs written
	// before endpoints: the callback).
	Destination  string
	ReferenceID  string
	UpdateID     string
	Sequence     uint64 // the update's sequence
	Attempt      int    // 1 for the first try of that update
	URL          string
	At           time.Time
	StatusCode   int
	Error        string
	LatencyMS    int64
	ResponseBody string
	Outcome      AttemptOutcome
	NextRetryAt  *time.Time
	Redelivery   bool // asked for with POST .../redeliver or .../resend
	// Disable, for an endpoint, is why this attempt disables it (410, a
	// webhook-delivery: disable header, failing past its policy); "" otherwise.
	Disable DisabledReason
}

// AttemptOutcome is what one delivery attempt came to.
type AttemptOutcome string

// Attempt outcomes.
const (
	OutcomeDelivered AttemptOutcome = "delivered" // 2xx
	OutcomeFailed    AttemptOutcome = "failed"    // will be retried
	OutcomeGaveUp    AttemptOutcome = "gave_up"   // the retry window ran out
	OutcomeGone      AttemptOutcome = "gone"      // 410: the reference was unsubscribed
	// OutcomeDropped is a requested redelivery of an update that retention removed
	// meanwhile: nothing was sent.
	OutcomeDropped AttemptOutcome = "dropped"
	// OutcomeAborted: an endpoint's receiver answered webhook-delivery:
	// abort-message; the message is failed and not retried.
	OutcomeAborted AttemptOutcome = "aborted"
	// OutcomeExpired: an endpoint's message still pending when retention's delivery
	// log cutoff passed it: it is failed, never sent.
	OutcomeExpired AttemptOutcome = "expired"
)

// AttemptOutcomes lists every outcome the delivery log and message logs can show.
var AttemptOutcomes = []AttemptOutcome{OutcomeDelivered, OutcomeFailed, OutcomeGaveUp, OutcomeGone, OutcomeDropped, OutcomeAborted, OutcomeExpired}
