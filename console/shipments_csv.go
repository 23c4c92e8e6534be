package console

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// MaxExportRows bounds the CSV export: past it the file ends with a row saying it
// was cut (a person exporting more wants the API's paging, or narrower filters). It
// keeps one request from streaming an unbounded account, while 100,000 rows (about
// 25 MB) is more than a spreadsheet is pleasant with.
const MaxExportRows = 100_000

// exportPageSize is how many references each read of the export asks for.
const exportPageSize = references.MaxPageSize

// exportRowLimit is MaxExportRows; a test lowers it to see the cut.
var exportRowLimit = MaxExportRows

var csvHeader = []string{
	"id", "kind", "identifier", "carrier_code", "status", "shipment_status",
	"origin_unlocode", "origin_name", "destination_unlocode", "destination_name",
	"eta", "first_eta", "eta_move_hours", "late",
	"last_polled_at", "last_poll_error", "delivery_state", "callback_url", "metadata",
	"created_at", "updated_at",
}

// shipmentsCSV exports every reference the list's filters match as CSV: GET
// /ui/shipments.csv. It streams the store's pages until the cursor ends (or
// MaxExportRows), so the whole file is never held in memory.
func (s *Server) shipmentsCSV(c echo.Context) error {
	v, err := s.viewer(c)
	if err != nil {
		return s.errorPage(c, err)
	}
	ctx := c.Request().Context()
	now := s.opts.Now()
	q, err := filtersOf(c).query(now)
	if err == nil {
		q.Limit = exportPageSize
		// The first page is read before anything is written, so bad filters are an
		// error page rather than a broken download.
		var page references.ReferencePage
		if page, err = s.svc.List(ctx, v.AccountID(), q); err == nil {
			return s.streamCSV(c, v.AccountID(), q, page, now)
		}
	}
	return s.errorPage(c, err) // invalid filters: 422 with the API's message
}

func (s *Server) streamCSV(c echo.Context, accountID string, q references.ListQuery, page references.ReferencePage, now time.Time) error {
	ctx := c.Request().Context()
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="shipments-%s.csv"`, now.UTC().Format("20060102-1504")))
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	if err := w.Write(csvHeader); err != nil {
		return err
	}
	rows := 0
	for {
		for i := range page.References {
			if rows == exportRowLimit {
				cut := make([]string, len(csvHeader))
				cut[0] = fmt.Sprintf("# cut at %d rows: more references match; narrow the filters or page through GET /references", exportRowLimit)
				if err := w.Write(cut); err != nil {
					return err
				}
				w.Flush()
				return w.Error()
			}
			ref := &page.References[i]
			var sum *references.ShipmentSummary
			if got, ok := page.Summaries[ref.ID]; ok {
				sum = &got
			}
			if err := w.Write(csvRecord(ref, sum, now)); err != nil {
				return err
			}
			rows++
		}
		if page.NextCursor == "" {
			break
		}
		w.Flush() // a page at a time reaches the client while the next is read
		if err := w.Error(); err != nil {
			return err
		}
		q.Cursor = page.NextCursor
		var err error
		if page, err = s.svc.List(ctx, accountID, q); err != nil {
			// The status is sent: all that can be done is to stop, logged.
			s.log.ErrorContext(ctx, "console: csv export stopped", "err", err)
			return nil
		}
	}
	w.Flush()
	return w.Error()
}

// csvRecord is one reference as a row of csvHeader, every cell guarded against
// formula injection (see csvCell).
func csvRecord(ref *references.Reference, sum *references.ShipmentSummary, now time.Time) []string {
	kind, ident := ref.Identifier()
	var status, eta, first, move, late string
	var origin, dest place
	if sum != nil {
		status = string(sum.Status)
		origin, dest = placeOf(sum.Origin), placeOf(sum.Destination)
		eta, first = rfc3339(sum.ETA), rfc3339(sum.FirstETA)
		if sum.ETA != nil && sum.FirstETA != nil {
			move = strconv.FormatFloat(sum.ETAMove().Hours(), 'f', 1, 64)
		}
		late = strconv.FormatBool(sum.Late(now))
	}
	var meta string
	if len(ref.Metadata) > 0 {
		b, _ := json.Marshal(ref.Metadata) // a map of strings always encodes; keys sorted
		meta = string(b)
	}
	created, updated := ref.CreatedAt, ref.UpdatedAt
	rec := []string{
		ref.ID, string(kind), ident, ref.CarrierCode, string(ref.Status), status,
		origin.Code, origin.Name, dest.Code, dest.Name,
		eta, first, move, late,
		rfc3339(ref.LastPolledAt), ref.LastPollError, string(ref.DeliveryState), ref.CallbackURL, meta,
		rfc3339(&created), rfc3339(&updated),
	}
	for i := range rec {
		rec[i] = csvCell(rec[i])
	}
	return rec
}

func rfc3339(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// plainNumber is a cell a spreadsheet reads as a number and nothing else.
var plainNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// csvCell guards a cell against CSV (formula) injection: a cell that starts with
// =, +, -, @, a tab or a carriage return is taken by spreadsheets as a formula, so it
// gets a leading ' (OWASP's advice), which they show as text. Metadata, callback URLs,
// poll errors and location names come from users and carriers. Plain negative
// numbers (an ETA that moved earlier) are left as they are: they are no formula.
func csvCell(s string) string {
	if s == "" || plainNumber.MatchString(s) {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
