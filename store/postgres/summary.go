package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/trackhook/trackhook/references"
)

// The summary of a reference's latest snapshot lives in its refs row: the
// references.ShipmentSummary as JSON in summary (NULL before the first snapshot), and
// beside it what the late filter compares, first_eta and arrived (the ETA is refs.eta).
// It is made by references.Summarize wherever a snapshot is stored: storeSnapshot,
// and Load.

// summaryRow is a summary with its columns.
type summaryRow struct {
	sum      references.ShipmentSummary
	json     []byte
	firstETA *time.Time
	arrived  bool
}

// summarize returns the summary of snapshot s given the stored one before it (nil
// for the first), ready to be written.
func summarize(prev *references.ShipmentSummary, s *references.Shipment) (summaryRow, error) {
	sum := references.Summarize(prev, s)
	data, err := json.Marshal(&sum)
	if err != nil {
		return summaryRow{}, fmt.Errorf("postgres: encode shipment summary: %w", err)
	}
	return summaryRow{sum: sum, json: data, firstETA: sum.FirstETA, arrived: sum.Arrived()}, nil
}

// decodeSummary reads a summary column; nil for NULL.
func decodeSummary(data []byte) (*references.ShipmentSummary, error) {
	if data == nil {
		return nil, nil
	}
	var sum references.ShipmentSummary
	if err := json.Unmarshal(data, &sum); err != nil {
		return nil, fmt.Errorf("postgres: decode shipment summary: %w", err)
	}
	return &sum, nil
}
