package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// AccountUpdate is one entry of the account feed: an update in its wire form, exactly
// as a webhook carries it (so one parser serves both), with its place in the
// account's sequence beside it.
type AccountUpdate struct {
	// AccountSequence numbers the account's updates 1, 2, 3 ... across its references.
	AccountSequence uint64         `json:"account_sequence"`
	Update          webhook.Update `json:"update"`
}

// AccountUpdatePage is the answer of GET /updates, in account sequence order.
type AccountUpdatePage struct {
	Updates []AccountUpdate `json:"updates"`
	// NextAfter, passed as ?after=, continues the feed. It is the account sequence of
	// the last update read, which the types filter may have left out.
	NextAfter uint64 `json:"next_after"`
	// LastSequence is the account's latest sequence: NextAfter below it means more.
	LastSequence uint64 `json:"last_sequence"`
	// OldestAvailable is the lowest account sequence still stored (0: none). Retention
	// removes old updates; a consumer whose cursor is below it missed some.
	OldestAvailable uint64 `json:"oldest_available"`
}

// listAccountUpdates is GET /updates?after=&limit=&types=, the account feed.
func (s *server) listAccountUpdates(c echo.Context) error {
	var q references.AccountUpdateQuery
	if raw := c.QueryParam("after"); raw != "" {
		var err error
		if q.After, err = strconv.ParseUint(raw, 10, 64); err != nil {
			return references.Invalidf("after", "must be an account sequence number (an integer of 0 or more)")
		}
	}
	var err error
	if q.Limit, err = queryLimit(c); err != nil {
		return err
	}
	if q.Types, err = references.ParseUpdateTypes(c.QueryParam("types")); err != nil {
		return err
	}
	page, err := s.svc.AccountUpdates(c.Request().Context(), apiKey(c).AccountID, q)
	if err != nil {
		return err
	}
	out := AccountUpdatePage{
		Updates:      make([]AccountUpdate, len(page.Updates)),
		NextAfter:    page.NextAfter,
		LastSequence: page.LastSequence, OldestAvailable: page.OldestAvailable,
	}
	for i, u := range page.Updates {
		out.Updates[i] = AccountUpdate{AccountSequence: u.AccountSequence, Update: webhook.NewUpdate(u.Update)}
	}
	return c.JSON(http.StatusOK, out)
}
