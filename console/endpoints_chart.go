package console

import (
	"context"
	"html/template"
	"time"

	"github.com/trackhook/trackhook/console/chart"
	"github.com/trackhook/trackhook/references"
)

// The deliveries chart of an endpoint's page: its messages of the last 24 hours per
// hour of creation, stacked by where each stands now.
//
// The source is the endpoint's message log, read newest first down to the start of
// the first hour: EndpointStats has only totals for the period, and the store has no
// per-hour count. The log is read in pages of references.MaxPageSize, at most
// chartMaxMessages messages; an endpoint busier than that gets a chart of its newest
// messages, and the page says from when. Both backends list messages by creation
// time from an index, so the read costs what it returns.
const chartMaxMessages = 2000

// chartHours is how many hours the chart shows, the current one last.
const chartHours = 24

// chartOutcomes are the chart's series: message statuses in the order they stack,
// each with its legend and CSS class.
var chartOutcomes = []struct {
	status references.MessageStatus
	name   string
	class  string
}{
	{references.MessageSucceeded, "Delivered", "delivered"},
	{references.MessageFailed, "Failed", "failed"},
	{references.MessageSending, "Retrying", "retrying"},
	{references.MessagePending, "Pending", "pending"},
}

// deliveriesChart draws the endpoint's messages per hour; note says what the chart
// leaves out, when it does.
func (s *Server) deliveriesChart(ctx context.Context, acct, endpointID string, now time.Time) (template.HTML, string, error) {
	now = now.UTC()
	first := now.Truncate(time.Hour).Add(-(chartHours - 1) * time.Hour)
	after := first.Add(-time.Nanosecond) // After is exclusive
	counts := make([][]int, len(chartOutcomes))
	for i := range counts {
		counts[i] = make([]int, chartHours)
	}
	q := references.MessageQuery{After: &after, Limit: references.MaxPageSize}
	var oldest time.Time
	read, note := 0, ""
	// Pages are bounded too, should a page come back short of messages.
	for pages := 0; ; pages++ {
		page, err := s.svc.Messages(ctx, acct, endpointID, q)
		if err != nil {
			return "", "", err
		}
		for _, m := range page.Messages {
			oldest = m.CreatedAt
			h := int(m.CreatedAt.Sub(first) / time.Hour)
			if h < 0 || h >= chartHours {
				continue // created after now by a clock ahead of ours
			}
			for i, o := range chartOutcomes {
				if o.status == m.Status {
					counts[i][h]++
				}
			}
		}
		read += len(page.Messages)
		if page.NextCursor == "" {
			break
		}
		if read >= chartMaxMessages || pages >= 2*chartMaxMessages/references.MaxPageSize {
			note = "The chart shows the newest " + num(read) + " messages, created since " +
				oldest.UTC().Format(whenLayout) + "; earlier hours are incomplete."
			break
		}
		q.Cursor = page.NextCursor
	}
	labels := make([]string, chartHours)
	for h := range labels {
		labels[h] = first.Add(time.Duration(h) * time.Hour).Format("15:04")
	}
	series := make([]chart.Series, len(chartOutcomes))
	for i, o := range chartOutcomes {
		series[i] = chart.Series{Name: o.name, Class: o.class, Values: counts[i]}
	}
	return chart.StackedBars("Messages per hour by outcome, last 24 hours (UTC)", labels, series), note, nil
}
