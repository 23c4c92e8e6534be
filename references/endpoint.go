package references

import "time"

// Endpoint is an account-level webhook destination: every update of the account's
// references that its event types and filter let through is sent to it, beside (not
// instead of) each reference's own callback_url. Each endpoint has its own secrets,
// retry policy, delivery state and message log; order is kept per (endpoint,
// reference).
type Endpoint struct {
	ID          string // ep_...; also the destination name of its deliveries
	AccountID   string
	URL         string
	Description string
	// EventTypes selects what is sent: update types, tags (see Update.Tags) and
	// wildcards ("shipment.*", "*"). Empty means every update type; operational
	// events (OperationalEventTypes) are sent only when named or matched by a
	// wildcard.
	EventTypes []string
	// MinETAChange drops ETA moves smaller than it: an update whose only changes are
	// such moves is not sent, and the eta tags are not set for them.
	MinETAChange time.Duration
	Filter       EndpointFilter
	Format       DeliveryFormat
	// BatchSize is how many updates one POST carries at most with FormatBatch.
	BatchSize int
	Headers   HeaderStyle
	// Retry: MaxAttempts above 0 gives a message up after that many attempts;
	// otherwise it is retried for RetryWindow (0: the notifier's window).
	MaxAttempts int
	RetryWindow time.Duration
	// DisableAfter disables the endpoint once it has failed, without a success, for
	// this long and a message was given up (0 with MaxAttempts: at the first message
	// given up, the Vision6 policy). DefaultDisableAfter when not given.
	DisableAfter time.Duration

	Enabled        bool
	DisabledReason DisabledReason
	DisabledAt     *time.Time
	// FailingSince is the first failed attempt since the last success.
	FailingSince *time.Time

	Secrets   []WebhookSecret // oldest first, as Account.WebhookSecrets
	CreatedAt time.Time
	UpdatedAt time.Time
}

// EndpointFilter restricts an endpoint to some references: those of the given
// carriers (empty: any) and carrying every metadata key=value pair given.
type EndpointFilter struct {
	CarrierCodes []string
	Metadata     map[string]string
}

// DeliveryFormat is how an endpoint receives updates.
type DeliveryFormat string

// Delivery formats.
const (
	FormatStandard DeliveryFormat = "standard" // one update per POST
	// FormatBatch: up to BatchSize consecutive updates of one reference per POST, body
	// {"type":"batch","data":[update, ...]}; the webhook-id is BatchID's.
	FormatBatch DeliveryFormat = "batch"
)

// HeaderStyle names the signature headers an endpoint gets.
type HeaderStyle string

// Header styles.
const (
	HeadersStandard HeaderStyle = "standard" // webhook-id, webhook-timestamp, webhook-signature
	// HeadersSvix sends svix-id, svix-timestamp and svix-signature as well, with the
	// same values, for receivers written against Svix's libraries.
	HeadersSvix HeaderStyle = "svix"
)

// DisabledReason says why an endpoint stopped receiving.
type DisabledReason string

// Reasons an endpoint is disabled. The empty reason goes with Enabled.
const (
	DisabledByUser     DisabledReason = "user"              // PATCH enabled=false
	DisabledGone       DisabledReason = "gone"              // the receiver answered 410
	DisabledByReceiver DisabledReason = "receiver_disabled" // a webhook-delivery: disable response header
	DisabledFailing    DisabledReason = "failing"           // failed past its DisableAfter
)

// Endpoint limits and defaults.
const (
	DefaultDisableAfter       = 5 * 24 * time.Hour
	DefaultBatchSize          = 50
	MaxBatchSize              = 500
	MaxEndpointsPerAccount    = 50
	MaxEndpointDescriptionLen = 1024
	MaxEndpointEventTypes     = 50
	MaxEndpointAttempts       = 100
	MaxFilterCarrierCodes     = 100
	// MaxRecoverAge bounds how far back POST /endpoints/:id/recover goes.
	MaxRecoverAge = 14 * 24 * time.Hour
)

// EndpointPatch is a change to an endpoint; nil fields are left as they are.
// Enabled=true re-enables a disabled endpoint: its pending messages are sent from
// where they stopped.
type EndpointPatch struct {
	URL          *string
	Description  *string
	EventTypes   *[]string
	MinETAChange *time.Duration
	Filter       *EndpointFilter
	Format       *DeliveryFormat
	BatchSize    *int
	Headers      *HeaderStyle
	MaxAttempts  *int
	RetryWindow  *time.Duration
	DisableAfter *time.Duration
	Enabled      *bool
}

// EndpointPage is one page of an account's endpoints in creation order.
type EndpointPage struct {
	Endpoints  []Endpoint
	NextCursor string
}

// MessageStatus is where one message (an update or operational event for one
// endpoint) stands.
type MessageStatus string

// Message statuses, as Svix and Visiwise show them.
const (
	MessagePending   MessageStatus = "pending"   // not tried yet
	MessageSending   MessageStatus = "sending"   // tried, failed, to be tried again
	MessageSucceeded MessageStatus = "succeeded" // delivered (2xx)
	MessageFailed    MessageStatus = "failed"    // given up, aborted by the receiver, or expired
)

// MessageStatuses lists every status, for validating ?status=.
var MessageStatuses = []MessageStatus{MessagePending, MessageSending, MessageSucceeded, MessageFailed}

// Message is one update (or operational event) queued for one endpoint, with every
// attempt made to send it. Its id is the update's (or event's) id.
type Message struct {
	EndpointID  string
	AccountID   string
	ID          string // the update's or operational event's id
	ReferenceID string // empty for an operational event
	Sequence    uint64 // the update's sequence in its reference's feed; the event's in the account's
	EventType   string
	Tags        []string
	CreatedAt   time.Time

	Status        MessageStatus
	FailReason    AttemptOutcome // on failed: gave_up, aborted or expired
	NextAttemptAt *time.Time     // on pending and sending
	// BatchID is set on the messages of a batch once its first attempt fixed it.
	BatchID  string
	Attempts []DeliveryAttempt // oldest first
}

// LastAttempt returns the newest attempt, or nil before the first.
func (m *Message) LastAttempt() *DeliveryAttempt {
	if len(m.Attempts) == 0 {
		return nil
	}
	return &m.Attempts[len(m.Attempts)-1]
}

// MessageQuery selects a page of an endpoint's messages, newest first.
type MessageQuery struct {
	Status MessageStatus // empty for all
	After  *time.Time    // created after
	Before *time.Time    // created before
	Limit  int
	Cursor string
}

// MessagePage is one page of an endpoint's messages.
type MessagePage struct {
	Messages   []Message
	NextCursor string
}

// EndpointStats summarises an endpoint's recent messages.
type EndpointStats struct {
	Since       time.Time
	Counts      map[MessageStatus]int
	SuccessRate float64 // succeeded / (succeeded + failed); 0 when both are 0
	// Attempt latencies of the period (responses and timeouts alike).
	LatencyP50MS int64
	LatencyP99MS int64
	Attempts     int
}
