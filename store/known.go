package store

import "github.com/trackhook/trackhook/references"

// known returns the shared string equal to b when b is one of the values that stored
// values keep repeating: the DCSA vocabulary (every one of references.Codes, as
// TestKnown_InternsTheVocabulary checks) and trackhook's own statuses and types.
// Decoding them then allocates nothing. Only decoding depends on this list: every
// string is stored in full. It is a switch, not a map built from references.Codes,
// because a switch on string(b) is about three times faster for these short strings,
// and it runs for every string of every event decoded.
func known(b []byte) (string, bool) {
	switch string(b) { // compiled without a conversion
	case "":
		return "", true
	// The DCSA vocabulary.
	case string(references.EventTransport):
		return string(references.EventTransport), true
	case string(references.EventEquipment):
		return string(references.EventEquipment), true
	case string(references.EventShipment):
		return string(references.EventShipment), true
	case string(references.ClassifierPlanned):
		return string(references.ClassifierPlanned), true
	case string(references.ClassifierEstimated):
		return string(references.ClassifierEstimated), true
	case string(references.ClassifierActual):
		return string(references.ClassifierActual), true
	case references.CodeArrival:
		return references.CodeArrival, true
	case references.CodeDeparture:
		return references.CodeDeparture, true
	case references.CodeLoad:
		return references.CodeLoad, true
	case references.CodeDischarge:
		return references.CodeDischarge, true
	case references.CodeGateIn:
		return references.CodeGateIn, true
	case references.CodeGateOut:
		return references.CodeGateOut, true
	case references.CodeStuffing:
		return references.CodeStuffing, true
	case references.CodeStripping:
		return references.CodeStripping, true
	case references.CodeReceived:
		return references.CodeReceived, true
	case references.CodeDrafted:
		return references.CodeDrafted, true
	case references.CodePendingApproval:
		return references.CodePendingApproval, true
	case references.CodePendingUpdate:
		return references.CodePendingUpdate, true
	case references.CodeRejected:
		return references.CodeRejected, true
	case references.CodeApproved:
		return references.CodeApproved, true
	case references.CodeIssued:
		return references.CodeIssued, true
	case references.CodeSurrendered:
		return references.CodeSurrendered, true
	case references.CodeSubmitted:
		return references.CodeSubmitted, true
	case references.CodeVoided:
		return references.CodeVoided, true
	case references.CodeConfirmed:
		return references.CodeConfirmed, true
	case references.CodeRequested:
		return references.CodeRequested, true
	case references.CodeCompleted:
		return references.CodeCompleted, true
	case references.CodeOnHold:
		return references.CodeOnHold, true
	case references.CodeReleased:
		return references.CodeReleased, true
	case references.EmptyIndicatorEmpty:
		return references.EmptyIndicatorEmpty, true
	case references.EmptyIndicatorLaden:
		return references.EmptyIndicatorLaden, true
	case references.ModeVessel:
		return references.ModeVessel, true
	case references.ModeRail:
		return references.ModeRail, true
	case references.ModeTruck:
		return references.ModeTruck, true
	case references.ModeBarge:
		return references.ModeBarge, true
	// trackhook's own enumerations.
	case string(references.StatusActive):
		return string(references.StatusActive), true
	case string(references.StatusUnsubscribed):
		return string(references.StatusUnsubscribed), true
	case string(references.DeliveryOK):
		return string(references.DeliveryOK), true
	case string(references.DeliveryFailing):
		return string(references.DeliveryFailing), true
	case string(references.UpdateShipment):
		return string(references.UpdateShipment), true
	case string(references.UpdateTrackingFailed):
		return string(references.UpdateTrackingFailed), true
	case string(references.UpdateUnsubscribed):
		return string(references.UpdateUnsubscribed), true
	case string(references.ShipmentInTransit):
		return string(references.ShipmentInTransit), true
	case string(references.ShipmentAtOrigin):
		return string(references.ShipmentAtOrigin), true
	case string(references.ShipmentBooked):
		return string(references.ShipmentBooked), true
	case string(references.ShipmentArrived):
		return string(references.ShipmentArrived), true
	case string(references.ShipmentDelivered):
		return string(references.ShipmentDelivered), true
	case string(references.ShipmentTransshipment):
		return string(references.ShipmentTransshipment), true
	case string(references.ShipmentEmptyReturned):
		return string(references.ShipmentEmptyReturned), true
	case string(references.ShipmentUnknown):
		return string(references.ShipmentUnknown), true
	case string(references.ChangeEventAdded):
		return string(references.ChangeEventAdded), true
	case string(references.ChangeEventRemoved):
		return string(references.ChangeEventRemoved), true
	case string(references.ChangeEstimateChanged):
		return string(references.ChangeEstimateChanged), true
	case string(references.ChangeActualized):
		return string(references.ChangeActualized), true
	case string(references.ChangeActualCorrected):
		return string(references.ChangeActualCorrected), true
	case string(references.ChangeVesselChanged):
		return string(references.ChangeVesselChanged), true
	case string(references.ChangeVoyageChanged):
		return string(references.ChangeVoyageChanged), true
	case string(references.ChangeStatusChanged):
		return string(references.ChangeStatusChanged), true
	case string(references.ChangeETAChanged):
		return string(references.ChangeETAChanged), true
	case string(references.ChangeLocationChanged):
		return string(references.ChangeLocationChanged), true
	case string(references.ChangeContainerAdded):
		return string(references.ChangeContainerAdded), true
	case string(references.ChangeContainerRemoved):
		return string(references.ChangeContainerRemoved), true
	}
	return "", false
}
