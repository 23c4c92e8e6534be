package api

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// csvHeader names the columns of a CSV export. Metadata is one column of JSON: keys
// differ between references, and a streamed export cannot know them all before the
// first row.
var csvHeader = []string{
	"id", "status", "container_id", "bill_of_lading", "booking_number", "carrier_code",
	"carrier_detected", "callback_url", "created_at", "updated_at", "last_polled_at", "eta", "metadata",
}

// wantsCSV reports whether a list asks for CSV: ?format=csv, or an Accept header that
// prefers text/csv to JSON (given without application/json before it).
func wantsCSV(c echo.Context, formatCSV bool) bool {
	if formatCSV {
		return true
	}
	accept := c.Request().Header.Get(echo.HeaderAccept)
	i := strings.Index(accept, "text/csv")
	j := strings.Index(accept, "application/json")
	return i >= 0 && (j < 0 || i < j)
}

// exportReferences streams every reference that passes q as CSV, reading page after
// page (the first is read before anything is written, so a bad query is still a 422).
// Each row's ETA is its latest snapshot's.
func (s *server) exportReferences(c echo.Context, q references.ListQuery) error {
	ctx := c.Request().Context()
	account := apiKey(c).AccountID
	q.Limit = references.MaxPageSize
	page, err := s.svc.List(ctx, account, q)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="references.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	if err := w.Write(csvHeader); err != nil {
		return nil // the client went away; the status is sent already
	}
	for {
		for _, ref := range page.References {
			row, err := s.csvRow(c, ref)
			if err != nil {
				return s.abortExport(c, err)
			}
			if err := w.Write(row); err != nil {
				return nil
			}
		}
		w.Flush()
		c.Response().Flush()
		if page.NextCursor == "" {
			return w.Error()
		}
		q.Cursor = page.NextCursor
		if page, err = s.svc.List(ctx, account, q); err != nil {
			return s.abortExport(c, err)
		}
	}
}

// abortExport logs an error met after the header was sent; the client sees a
// truncated file (the connection is cut), never a partial file that looks whole.
func (s *server) abortExport(c echo.Context, err error) error {
	c.Logger().Errorf("CSV export stopped: %v", err)
	panic(http.ErrAbortHandler)
}

func (s *server) csvRow(c echo.Context, ref references.Reference) ([]string, error) {
	eta := ""
	snap, err := s.svc.Shipment(c.Request().Context(), ref.AccountID, ref.ID)
	switch {
	case err == nil && snap.ETA != nil:
		eta = snap.ETA.UTC().Format(time.RFC3339)
	case err != nil && !errors.Is(err, references.ErrNotFound):
		return nil, err
	}
	meta := ""
	if len(ref.Metadata) > 0 {
		b, err := json.Marshal(ref.Metadata)
		if err != nil {
			return nil, fmt.Errorf("metadata of %s: %w", ref.ID, err)
		}
		meta = string(b)
	}
	row := []string{
		ref.ID, string(ref.Status), ref.ContainerID, ref.BillOfLading, ref.BookingNumber, ref.CarrierCode,
		fmt.Sprint(ref.CarrierDetected), ref.CallbackURL, csvTime(&ref.CreatedAt), csvTime(&ref.UpdatedAt),
		csvTime(ref.LastPolledAt), eta, meta,
	}
	for i := range row {
		row[i] = csvSafe(row[i])
	}
	return row, nil
}

func csvTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// csvSafe keeps a spreadsheet from running a cell as a formula (CSV injection): a
// cell starting with = + - @ (or a tab or carriage return, which some read past) gets
// a leading apostrophe.
func csvSafe(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}
