package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// importColumns are the columns an import file may have besides metadata.KEY.
var importColumns = []string{"container_id", "bill_of_lading", "booking_number", "carrier_code", "callback_url", "poll_interval", "event_types"}

// importItem is one row of an import file as POST /references/batch takes it.
type importItem struct {
	ContainerID   string            `json:"container_id,omitempty"`
	BillOfLading  string            `json:"bill_of_lading,omitempty"`
	BookingNumber string            `json:"booking_number,omitempty"`
	CarrierCode   string            `json:"carrier_code,omitempty"`
	CallbackURL   string            `json:"callback_url,omitempty"`
	PollInterval  string            `json:"poll_interval,omitempty"`
	EventTypes    []string          `json:"event_types,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
}

// importRow is a row of the file with the line it starts on, for the report.
type importRow struct {
	Line int
	Item importItem
}

// parseImportCSV reads an import file: a header row naming the columns, then one
// reference per row. Values are checked by the server, row by row; only the file's
// shape is checked here (known columns, as many cells as columns), so that a file
// that is not what the user meant sends nothing.
func parseImportCSV(r io.Reader) ([]importRow, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the file is empty: it needs a header row naming the columns, such as container_id,carrier_code")
	}
	if err != nil {
		return nil, err
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff") // a spreadsheet's byte order mark
	}
	seen := map[string]bool{}
	for i, name := range header {
		name = strings.TrimSpace(name)
		if len(name) >= len("metadata.") && strings.EqualFold(name[:len("metadata.")], "metadata.") {
			key := name[len("metadata."):] // the key as written: metadata keys are the user's
			name = "metadata." + key
			if key == "" {
				return nil, fmt.Errorf("header column %d: give the metadata key after \"metadata.\"", i+1)
			}
		} else {
			name = strings.ToLower(name)
			if !slices.Contains(importColumns, name) {
				return nil, fmt.Errorf("header column %d: unknown column %q; the columns are %s and metadata.KEY", i+1, header[i], strings.Join(importColumns, ", "))
			}
		}
		if seen[name] {
			return nil, fmt.Errorf("header column %d: column %q appears twice", i+1, name)
		}
		seen[name] = true
		header[i] = name
	}
	if !seen["container_id"] && !seen["bill_of_lading"] && !seen["booking_number"] {
		return nil, errors.New("the header names no identifier column: give container_id, bill_of_lading or booking_number")
	}
	var rows []importRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err // csv.ParseError names the line
		}
		line, _ := cr.FieldPos(0)
		rows = append(rows, importRow{Line: line, Item: importItemOf(header, rec)})
	}
	if len(rows) == 0 {
		return nil, errors.New("the file has a header but no rows")
	}
	return rows, nil
}

// importItemOf reads one row under header; empty cells are left out.
func importItemOf(header, rec []string) importItem {
	var it importItem
	for i, name := range header {
		v := strings.TrimSpace(rec[i])
		if v == "" {
			continue
		}
		switch name {
		case "container_id":
			it.ContainerID = v
		case "bill_of_lading":
			it.BillOfLading = v
		case "booking_number":
			it.BookingNumber = v
		case "carrier_code":
			it.CarrierCode = v
		case "callback_url":
			it.CallbackURL = v
		case "poll_interval":
			it.PollInterval = v
		case "event_types":
			it.EventTypes = strings.FieldsFunc(v, func(r rune) bool { return r == ';' || r == ' ' || r == '\t' })
		default:
			if it.Metadata == nil {
				it.Metadata = map[string]string{}
			}
			it.Metadata[strings.TrimPrefix(name, "metadata.")] = v
		}
	}
	return it
}
