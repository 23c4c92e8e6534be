package console

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/console/chart"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/tracking"
)

// Sizes of the detail page's lists.
const (
	feedPageSize     = 25
	deliveryPageSize = 50
	// maxChartUpdates bounds the updates read for the ETA drift chart (each carries
	// its snapshot, decoded to be read): a voyage's feed holds a few dozen; past this
	// bound the chart shows the newest ones, measured from the first ETA they knew.
	maxChartUpdates = references.MaxPageSize
)

// shipmentData is the detail page of one reference.
type shipmentData struct {
	Ref      refHeader
	CanWrite bool

	HasSnapshot     bool
	ShipmentStatus  string
	ETA             *time.Time
	ETAMove         string
	Late            bool
	CurrentLocation place
	CurrentVessel   string

	Route    []routeStop
	Timeline []timelineGroup
	Chart    template.HTML
	ETAPoint int // how many ETA changes the chart has

	Feed          []updateView
	FeedNewerHref string // "" on the newest page
	FeedOlderHref string // "" when the oldest update is shown

	Deliveries     []deliveryGroup
	DeliveriesHref string // the next (older) page of the delivery log; "" on the last
	DeliveriesMore bool   // a later page was asked for (a link back to the newest)
}

// refHeader is the reference's own state, formatted.
type refHeader struct {
	ID                string
	Identifier        string
	Kind              string
	Carrier           string
	CarrierDetected   bool
	Status            references.Status
	UnsubscribeReason string
	UnsubscribedAt    *time.Time
	Callback          string
	DeliveryState     string
	Metadata          []keyValue
	Created           time.Time
	PollInterval      time.Duration
	LastPoll          *time.Time
	NextPoll          *time.Time
	PollError         string
	Failures          int
	PausedAt          *time.Time
	// Push is the reference's subscription at its carrier's push API; nil when it is
	// only polled.
	Push *references.PushSubscription
}

type keyValue struct{ Key, Value string }

func headerOf(ref *references.Reference) refHeader {
	kind, ident := ref.Identifier()
	h := refHeader{
		ID: ref.ID, Identifier: ident, Kind: kindWords(kind), Carrier: ref.CarrierCode, CarrierDetected: ref.CarrierDetected,
		Status: ref.Status, UnsubscribeReason: words(string(ref.UnsubscribeReason)), UnsubscribedAt: ref.UnsubscribedAt,
		Callback: ref.CallbackURL, DeliveryState: string(ref.DeliveryState),
		Created: ref.CreatedAt, PollInterval: time.Duration(ref.PollInterval),
		LastPoll: ref.LastPolledAt, PollError: ref.LastPollError, Failures: ref.ConsecutiveFailures, PausedAt: ref.PausedAt,
		Push: ref.Push,
	}
	if ref.Active() {
		h.NextPoll = ref.NextPollAt
	}
	for k, v := range ref.Metadata {
		h.Metadata = append(h.Metadata, keyValue{k, v})
	}
	slices.SortFunc(h.Metadata, func(a, b keyValue) int { return strings.Compare(a.Key, b.Key) })
	return h
}

// The actions a viewer with the write scope is offered follow the reference's state,
// as the references Service allows them.

// CanRefresh: only an active reference is polled.
func (h refHeader) CanRefresh() bool { return h.Status == references.StatusActive }

// CanPause: an active reference.
func (h refHeader) CanPause() bool { return h.Status == references.StatusActive }

// CanResume: a paused reference.
func (h refHeader) CanResume() bool { return h.Status == references.StatusPaused }

// CanUnsubscribe: active or paused; unsubscribing is final.
func (h refHeader) CanUnsubscribe() bool { return h.Status != references.StatusUnsubscribed }

// CanResend: a redelivery goes to the reference's own callback (an endpoint's
// messages are resent from the endpoint's page).
func (h refHeader) CanResend() bool { return h.Callback != "" }

// shipment is the detail page of one reference: GET /ui/shipments/:id.
func (s *Server) shipment(c echo.Context) error {
	v, err := s.viewer(c)
	if err != nil {
		return s.errorPage(c, err)
	}
	ctx := c.Request().Context()
	acct, id := v.AccountID(), c.Param("id")
	ref, err := s.svc.Get(ctx, acct, id)
	if err != nil {
		return s.errorPage(c, err)
	}
	now := s.opts.Now()
	d := shipmentData{Ref: headerOf(&ref), CanWrite: v.Can(references.ScopeWrite)}

	snap, err := s.svc.Shipment(ctx, acct, id)
	switch {
	case errors.Is(err, references.ErrNotFound): // not polled successfully yet: Get found the reference
	case err != nil:
		return s.errorPage(c, err)
	default:
		d.HasSnapshot = true
		d.ShipmentStatus = words(string(snap.Status))
		d.CurrentLocation = placeOf(snap.CurrentLocation)
		d.CurrentVessel = tracking.VesselLabel(snap.CurrentVessel)
		d.Route = routeOf(&snap)
		d.Timeline = timelineOf(&snap)
	}

	drift, firstETA, err := s.etaDrift(c, &ref)
	if err != nil {
		return s.errorPage(c, err)
	}
	d.Chart, d.ETAPoint = chart.Line("ETA drift: hours the ETA moved from the first one", "h", drift), len(drift)
	if d.HasSnapshot {
		sum := references.ShipmentSummary{Status: snap.Status, ETA: snap.ETA, FirstETA: firstETA}
		if sum.FirstETA == nil {
			sum.FirstETA = snap.ETA
		}
		d.ETA, d.ETAMove, d.Late = snap.ETA, etaMoveText(&sum), sum.Late(now)
	}

	if err := s.feedOf(c, &d, &ref); err != nil {
		return s.errorPage(c, err)
	}
	if err := s.deliveriesOf(c, &d, acct, id); err != nil {
		return s.errorPage(c, err)
	}
	return s.render(c, http.StatusOK, "shipment.html", d.Ref.Identifier, "shipments", d)
}

// routeStop is one port of the route.
type routeStop struct {
	Role    string // origin, transshipment, destination
	Place   place
	Reached bool   // an actual event happened there
	When    string // what Time is: "departed", "ETA", ...
	Time    *time.Time
}

// routeOf derives the route from the snapshot's events: its origin, the ports where
// the cargo was (or is to be) discharged or loaded in between (transshipments, in
// the order of the events), and its destination.
func routeOf(s *references.Shipment) []routeStop {
	if s.Origin == nil && s.Destination == nil {
		return nil
	}
	originKey, destKey := tracking.LocationKey(s.Origin), tracking.LocationKey(s.Destination)
	reached := map[string]bool{}
	for i := range s.Events {
		if e := &s.Events[i]; e.Classifier == references.ClassifierActual && e.Location != nil {
			reached[tracking.LocationKey(e.Location)] = true
		}
	}
	var route []routeStop
	if s.Origin != nil {
		st := routeStop{Role: "origin", Place: placeOf(s.Origin), Reached: reached[originKey]}
		if e := tracking.MostDefinite(s.Events, s.Origin, references.CodeDeparture, references.CodeLoad); e != nil {
			st.When, st.Time = milestoneWhen("departure", e), &e.Time
		}
		route = append(route, st)
	}
	seen := map[string]bool{originKey: true, destKey: true}
	for i := range s.Events {
		e := &s.Events[i]
		code := strings.ToUpper(e.Code)
		if e.Location == nil || code != references.CodeLoad && code != references.CodeDischarge {
			continue
		}
		k := tracking.LocationKey(e.Location)
		if k == "" || seen[k] {
			continue
		}
		seen[k] = true
		st := routeStop{Role: "transshipment", Place: placeOf(e.Location), Reached: reached[k]}
		if a := tracking.MostDefinite(s.Events, e.Location, references.CodeDischarge, references.CodeArrival); a != nil {
			st.When, st.Time = milestoneWhen("arrival", a), &a.Time
		}
		route = append(route, st)
	}
	if s.Destination != nil {
		st := routeStop{Role: "destination", Place: placeOf(s.Destination), Reached: reached[destKey]}
		if s.ETA != nil {
			st.When, st.Time = "ETA", s.ETA
			if e := tracking.MostDefinite(s.Events, s.Destination, references.CodeArrival, references.CodeDischarge); e != nil && e.Classifier == references.ClassifierActual {
				st.When = "arrived"
			}
		}
		route = append(route, st)
	}
	return route
}

// milestoneWhen says what the time of e at a stop is: "departed", "estimated
// departure", "planned arrival".
func milestoneWhen(what string, e *references.Event) string {
	if e.Classifier == references.ClassifierActual {
		if what == "departure" {
			return "departed"
		}
		return "arrived"
	}
	if w := e.Classifier.Word(); w != "" {
		return w + " " + what
	}
	return what
}

// timelineGroup is a list of milestones: all of them, or with several containers
// the events of the whole shipment (vessel moves, documents) and then each
// container's own.
type timelineGroup struct {
	Title      string // "" for the only group
	Container  string
	ISO        string
	Status     string
	Milestones []milestoneView
}

type milestoneView struct {
	Classifier string // PLN, EST, ACT
	ClassWord  string // planned, estimated, actual
	What       string // the event in words
	Code       string
	Time       time.Time
	Place      place
	Vessel     string
	Voyage     string
	Mode       string // a transport call's mode other than by vessel
	Container  string // in a single list, the container an event is about
	Detail     string // the source's description
}

func timelineOf(s *references.Shipment) []timelineGroup {
	if len(s.Containers) <= 1 {
		g := timelineGroup{Milestones: make([]milestoneView, len(s.Events))}
		for i := range s.Events {
			g.Milestones[i] = milestoneOf(&s.Events[i], true)
		}
		return []timelineGroup{g}
	}
	shared := timelineGroup{Title: "Vessel and documents (every container)"}
	for i := range s.Events {
		if strings.TrimSpace(s.Events[i].EquipmentReference) == "" {
			shared.Milestones = append(shared.Milestones, milestoneOf(&s.Events[i], false))
		}
	}
	groups := []timelineGroup{shared}
	for _, ct := range s.Containers {
		g := timelineGroup{Title: "Container " + ct.Number, Container: ct.Number, ISO: ct.ISOEquipmentCode, Status: words(string(ct.Status))}
		for i := range ct.Milestones {
			g.Milestones = append(g.Milestones, milestoneOf(&ct.Milestones[i], false))
		}
		groups = append(groups, g)
	}
	return groups
}

func milestoneOf(e *references.Event, withContainer bool) milestoneView {
	m := milestoneView{
		Classifier: string(e.Classifier), ClassWord: e.Classifier.Word(), What: eventWords(e),
		Code: e.Code, Time: e.Time, Place: placeOf(e.Location), Detail: strings.TrimSpace(e.Description),
	}
	if m.ClassWord == "" {
		m.ClassWord = "reported"
	}
	if tc := e.TransportCall; tc != nil {
		m.Vessel, m.Voyage = tracking.VesselLabel(tc), strings.TrimSpace(tc.Voyage)
		if mode := strings.ToUpper(strings.TrimSpace(tc.ModeOfTransport)); mode != "" && mode != references.ModeVessel {
			m.Mode = strings.ToLower(mode)
		}
	}
	if withContainer {
		m.Container = strings.TrimSpace(e.EquipmentReference)
	}
	return m
}

// eventWords says what an event is, in the words of references' DCSA vocabulary:
// "Vessel departure", "Laden gate-in", "Document issued"; an unknown code as it is.
func eventWords(e *references.Event) string {
	code := strings.ToUpper(strings.TrimSpace(e.Code))
	var s string
	if e.Type == references.EventShipment {
		s = "document " + references.DocumentStatusWord(code)
		if references.DocumentStatusWord(code) == "" {
			s = "document status " + code
		}
	} else if s = references.EventCodeWord(code); s == "" {
		s = "event " + code
	} else if code == references.CodeGateIn || code == references.CodeGateOut {
		if w := references.EmptyIndicatorWord(strings.ToUpper(e.EmptyIndicator)); w != "" {
			s = w + " " + s
		}
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// etaDrift reads the feed (at most maxChartUpdates, the newest) for its ETA changes:
// the chart's points, hours the ETA moved from the first one the feed shows, at the
// time of each update; and that first ETA.
func (s *Server) etaDrift(c echo.Context, ref *references.Reference) ([]chart.Point, *time.Time, error) {
	ctx := c.Request().Context()
	var after uint64
	if ref.LastSequence > maxChartUpdates {
		after = ref.LastSequence - maxChartUpdates
	}
	var pts []chart.Point
	var first *time.Time
	for {
		page, err := s.svc.Updates(ctx, ref.AccountID, ref.ID, after, references.MaxPageSize)
		if err != nil {
			return nil, nil, err
		}
		for _, u := range page.Updates {
			for _, ch := range u.Changes {
				if ch.Type != references.ChangeETAChanged {
					continue
				}
				eta, err := time.Parse(time.RFC3339Nano, ch.New)
				if err != nil {
					continue // the ETA is no longer known: no point
				}
				if first == nil {
					first = &eta
					if old, err := time.Parse(time.RFC3339Nano, ch.Old); err == nil {
						first = &old // the feed starts after the first ETA (retention)
					}
				}
				pts = append(pts, chart.Point{At: u.CreatedAt.UTC(), Value: eta.Sub(*first).Hours()})
			}
		}
		if len(page.Updates) < references.MaxPageSize || page.NextAfter >= ref.LastSequence {
			return pts, first, nil
		}
		after = page.NextAfter
	}
}

// updateView is one update of the feed, described.
type updateView struct {
	ID       string
	Sequence uint64
	Type     string
	Created  time.Time
	Changes  []changeView
	Error    string
	Reason   string // why tracking stopped, on reference.unsubscribed
}

type changeView struct {
	Type        string
	Description string
	Container   string
}

func updateOf(u *references.Update) updateView {
	uv := updateView{
		ID: u.ID, Sequence: u.Sequence, Type: string(u.Type), Created: u.CreatedAt,
		Error: u.Error, Reason: words(string(u.UnsubscribeReason)),
	}
	for _, ch := range u.Changes {
		d := ch.Description
		if d == "" { // written by the tracking package's wording; older records may lack it
			d = words(string(ch.Type)) + ": " + strings.TrimSpace(ch.Old+" → "+ch.New)
		}
		uv.Changes = append(uv.Changes, changeView{Type: string(ch.Type), Description: d, Container: ch.Container})
	}
	return uv
}

// feedOf reads the page of the feed asked for by ?feed_before= (the sequence the
// page ends before; none: the newest), newest first.
func (s *Server) feedOf(c echo.Context, d *shipmentData, ref *references.Reference) error {
	before := ref.LastSequence + 1
	if raw := c.QueryParam("feed_before"); raw != "" {
		n, err := strconv.ParseUint(raw, 10, 64)
		if err != nil || n == 0 {
			return echo.NewHTTPError(http.StatusBadRequest, "feed_before must be a positive sequence number")
		}
		before = min(n, before)
	}
	after := uint64(0)
	if before > feedPageSize+1 {
		after = before - 1 - feedPageSize
	}
	var ups []references.Update
	if before > 1 {
		page, err := s.svc.Updates(c.Request().Context(), ref.AccountID, ref.ID, after, int(before-1-after))
		if err != nil {
			return err
		}
		ups = page.Updates
	}
	base := shipmentPath(ref.ID)
	for i := len(ups) - 1; i >= 0; i-- {
		if ups[i].Sequence >= before {
			continue // retention removed older ones, so the read went past the page
		}
		d.Feed = append(d.Feed, updateOf(&ups[i]))
	}
	if after > 0 {
		d.FeedOlderHref = base + "?feed_before=" + strconv.FormatUint(after+1, 10) + "#feed"
	}
	if before <= ref.LastSequence {
		d.FeedNewerHref = base + "?feed_before=" + strconv.FormatUint(min(before+feedPageSize, ref.LastSequence+1), 10) + "#feed"
	}
	return nil
}

// deliveryGroup is the delivery log of one destination: the reference's callback or
// an account endpoint.
type deliveryGroup struct {
	Destination string // references.DestinationCallback or the endpoint's id
	Callback    bool
	URL         string
	Description string // the endpoint's
	Attempts    []attemptView
}

type attemptView struct {
	At         time.Time // zero for a message not tried yet
	Sequence   uint64
	UpdateID   string
	Attempt    int
	Outcome    string
	StatusCode int
	LatencyMS  int64
	Error      string
	NextRetry  *time.Time
	Redelivery bool
	Message    string // an endpoint's message status (pending, sending, succeeded, failed)
}

func attemptOf(a *references.DeliveryAttempt) attemptView {
	return attemptView{
		At: a.At, Sequence: a.Sequence, UpdateID: a.UpdateID, Attempt: a.Attempt, Outcome: words(string(a.Outcome)),
		StatusCode: a.StatusCode, LatencyMS: a.LatencyMS, Error: a.Error, NextRetry: a.NextRetryAt, Redelivery: a.Redelivery,
	}
}

// maxEndpointGroups bounds the endpoints whose messages the page looks up: each is
// one lookup per update of the feed page.
const maxEndpointGroups = 50

// deliveriesOf reads the delivery log per destination. The callback's is the
// reference's own log (Service.Deliveries: newest first, ?deliveries= is its cursor).
// An endpoint keeps its attempts in its messages, one per update (the message id is
// the update's), so its group holds the messages of the updates on the feed page, their
// attempts newest first.
func (s *Server) deliveriesOf(c echo.Context, d *shipmentData, acct, id string) error {
	ctx := c.Request().Context()
	cursor := c.QueryParam("deliveries")
	page, err := s.svc.Deliveries(ctx, acct, id, references.DeliveryQuery{Limit: deliveryPageSize, Cursor: cursor})
	if err != nil {
		return err
	}
	index := map[string]int{}
	for i := range page.Deliveries {
		a := &page.Deliveries[i]
		dest := a.Destination
		if dest == "" {
			dest = references.DestinationCallback // logs written before endpoints
		}
		g, ok := index[dest]
		if !ok {
			g = len(d.Deliveries)
			index[dest] = g
			d.Deliveries = append(d.Deliveries, deliveryGroup{Destination: dest, Callback: dest == references.DestinationCallback, URL: a.URL})
		}
		d.Deliveries[g].Attempts = append(d.Deliveries[g].Attempts, attemptOf(a))
	}
	if page.NextCursor != "" {
		d.DeliveriesHref = shipmentPath(id) + "?deliveries=" + url.QueryEscape(page.NextCursor) + "#deliveries"
	}
	d.DeliveriesMore = cursor != ""
	if len(d.Feed) == 0 {
		return nil
	}
	eps, err := s.svc.ListEndpoints(ctx, acct, references.ListQuery{Limit: maxEndpointGroups})
	if err != nil {
		return err
	}
	for _, ep := range eps.Endpoints {
		if _, dup := index[ep.ID]; dup {
			continue // a backend that logs endpoint attempts with the reference's
		}
		g := deliveryGroup{Destination: ep.ID, URL: ep.URL, Description: ep.Description}
		for _, u := range d.Feed {
			m, _, err := s.svc.Message(ctx, acct, ep.ID, u.ID)
			if errors.Is(err, references.ErrNotFound) {
				continue // not sent there: the endpoint's filter, or created after the update
			}
			if err != nil {
				return err
			}
			if len(m.Attempts) == 0 {
				g.Attempts = append(g.Attempts, attemptView{Sequence: m.Sequence, UpdateID: m.ID, Message: string(m.Status), NextRetry: m.NextAttemptAt})
			}
			for i := len(m.Attempts) - 1; i >= 0; i-- {
				a := attemptOf(&m.Attempts[i])
				a.Message = string(m.Status)
				g.Attempts = append(g.Attempts, a)
			}
		}
		if len(g.Attempts) > 0 {
			d.Deliveries = append(d.Deliveries, g)
		}
	}
	return nil
}
