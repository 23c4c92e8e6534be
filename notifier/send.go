package notifier

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/trackhook/trackhook/internal/retryafter"
	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// Defaults for SenderOptions.
const (
	DefaultSendTimeout         = 10 * time.Second
	DefaultMaxResponseBytes    = 4 << 10
	DefaultMaxConnsPerHost     = 16
	DefaultMaxIdleConnsPerHost = 16
)

const (
	// drainLimit is how much of a response body beyond MaxResponseBytes is read and
	// thrown away so the connection can be reused; past it the connection is dropped.
	drainLimit = 64 << 10
	// maxResponseHeaderBytes bounds the response headers a receiver can make us buffer.
	maxResponseHeaderBytes = 64 << 10
)

// ErrNoResponse is wrapped in Result.Err when no HTTP response came back: the
// connection failed or was reset, the receiver did not answer within the timeout, or
// the dialer refused the destination.
var ErrNoResponse = errors.New("no response from the receiver")

// StatusError is Result.Err for a response that is not 2xx.
type StatusError struct {
	StatusCode int
	// Location is the Location header of a 3xx response, which is not followed.
	Location string
}

// Error says what the receiver answered and, for a redirect, where it pointed.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("receiver answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.StatusCode >= 300 && e.StatusCode < 400 {
		if e.Location != "" {
			msg += fmt.Sprintf("; redirects are not followed, set the URL to %s instead", e.Location)
		} else {
			msg += "; redirects are not followed"
		}
	}
	return msg
}

// SenderOptions configures a Sender. Zero values mean the defaults.
type SenderOptions struct {
	// Timeout bounds a whole attempt: connecting, TLS, sending, waiting for the answer
	// and reading the kept part of its body. Default DefaultSendTimeout.
	Timeout time.Duration
	// MaxResponseBytes is how much of the response body is kept for the delivery log.
	// Default DefaultMaxResponseBytes.
	MaxResponseBytes int
	// UserAgent is sent on every request, "trackhook/<version>". Default "trackhook".
	UserAgent string
	// AllowPrivate lets deliveries reach loopback and private addresses (see
	// NewGuardedDialer): for receivers on the same private network, and tests.
	AllowPrivate bool
	// Resolver looks up callback host names; nil means net.DefaultResolver.
	Resolver *net.Resolver
	// MaxConnsPerHost bounds concurrent connections to one receiver, so a backlog is
	// not delivered as a flood. Default DefaultMaxConnsPerHost.
	MaxConnsPerHost int
	// MaxIdleConnsPerHost is how many kept-alive connections per receiver wait for the
	// next delivery. net/http's default of 2 would close and reopen connections under
	// load. Default DefaultMaxIdleConnsPerHost.
	MaxIdleConnsPerHost int
	// Now returns the current time, used for webhook-timestamp and latency; nil means
	// time.Now.
	Now func() time.Time
}

// Sender makes single delivery attempts: one signed POST, no retries. It is safe for
// concurrent use. Retrying, breakers and the delivery log are the caller's.
type Sender struct {
	client       *http.Client
	transport    *http.Transport
	userAgent    string
	maxBody      int
	now          func() time.Time
	resolver     *net.Resolver
	allowPrivate bool
	names        nameCache // recently resolved callback hosts (see resolve)
}

// NewSender returns a Sender with its own connection pool. Its connections go through
// the guarded dialer, never through a proxy (a proxy would hide the real destination
// from the guard), and redirects are never followed: a 3xx is a failed attempt, as the
// Standard Webhooks specification recommends.
func NewSender(opts SenderOptions) *Sender {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultSendTimeout
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "trackhook"
	}
	if opts.MaxConnsPerHost <= 0 {
		opts.MaxConnsPerHost = DefaultMaxConnsPerHost
	}
	if opts.MaxIdleConnsPerHost <= 0 {
		opts.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dialer := NewGuardedDialer(opts.AllowPrivate, opts.Timeout)
	dialer.Resolver = opts.Resolver
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialDestination(dialer),
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:      true, // a custom DialContext turns HTTP/2 off unless asked
		TLSHandshakeTimeout:    min(opts.Timeout, 10*time.Second),
		ResponseHeaderTimeout:  opts.Timeout,
		MaxConnsPerHost:        opts.MaxConnsPerHost,
		MaxIdleConnsPerHost:    opts.MaxIdleConnsPerHost,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		// Compressed answers would make the size limits apply to the decompressed body
		// while the wire could carry much more.
		DisableCompression: true,
	}
	return &Sender{
		client: &http.Client{
			Transport: tr,
			// Client.Timeout also covers reading the body, so a receiver dripping its
			// answer a byte at a time cannot hold an attempt past Timeout.
			Timeout:       opts.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		transport:    tr,
		userAgent:    opts.UserAgent,
		maxBody:      opts.MaxResponseBytes,
		now:          opts.Now,
		resolver:     opts.Resolver,
		allowPrivate: opts.AllowPrivate,
	}
}

// CloseIdleConnections closes the kept-alive connections, for shutdown.
func (s *Sender) CloseIdleConnections() { s.transport.CloseIdleConnections() }

// Request is one delivery attempt to make.
type Request struct {
	URL string // the callback's or the endpoint's URL
	// UpdateID is sent as webhook-id: the update's id, or the batch's or operational
	// event's (references.DeliveryJob.WebhookID).
	UpdateID string
	Body     []byte   // the webhook body (webhook.Encode, EncodeBatch, EncodeEvent), sent and signed as is
	Secrets  []string // the live signing secrets, newest first: the account's, or the endpoint's
	// Headers is the endpoint's header style; "" (a callback) is standard.
	Headers references.HeaderStyle

	// to, when set (by the notifier, from Sender.resolve), is where the connection
	// goes, whatever the URL's host resolves to by then.
	to destination
}

// Result is what one attempt came to, in the shape the delivery log keeps.
type Result struct {
	// At is when the attempt started; it is the signed webhook-timestamp.
	At time.Time
	// Outcome is OutcomeDelivered for 2xx, OutcomeGone for 410 and OutcomeFailed for
	// anything else, including no response.
	Outcome references.AttemptOutcome
	// StatusCode is the response status, or 0 when there was no response.
	StatusCode int
	// Err says why the attempt did not deliver: a *StatusError for a response that is
	// not 2xx, an error wrapping ErrNoResponse when there was none, or another error
	// when the request could not be made at all (a bad URL, a bad secret). Nil on
	// OutcomeDelivered.
	Err error
	// Latency is from the start of the attempt to the end of reading the response.
	Latency time.Duration
	// Body is the start of the response body, at most MaxResponseBytes, with invalid
	// UTF-8 replaced; Truncated says there was more.
	Body      string
	Truncated bool
	// RetryAfter is the delay the receiver asked for in a Retry-After header (as
	// seconds or an HTTP date), or 0.
	RetryAfter time.Duration
	// Control is what the receiver asked for in a webhook-delivery header, with any
	// status; only deliveries to endpoints honour it.
	Control Control
}

// unsent returns the Result of an attempt that could not be made: err says why.
func (s *Sender) unsent(err error) Result {
	return Result{At: s.now(), Outcome: references.OutcomeFailed, Err: err}
}

// ErrText returns Err as text for the delivery log, or "" when Err is nil.
func (r Result) ErrText() string {
	if r.Err == nil {
		return ""
	}
	return r.Err.Error()
}

// Send makes one signed POST of req.Body to req.URL and reports what happened. It never
// returns before the response is read or Timeout has passed, and honours ctx: when ctx
// is cancelled, Result.Err wraps ctx's error.
func (s *Sender) Send(ctx context.Context, req Request) Result {
	at := s.now()
	res := Result{At: at, Outcome: references.OutcomeFailed}

	if len(req.to.addrs) > 0 {
		ctx = context.WithValue(ctx, destinationKey{}, req.to)
	}
	hreq, err := s.newRequest(ctx, req, at)
	if err != nil {
		res.Err = err
		return res
	}
	resp, err := s.client.Do(hreq)
	if err != nil {
		res.Latency = s.now().Sub(at)
		res.Err = noResponse(ctx, err)
		return res
	}
	defer resp.Body.Close()

	res.StatusCode = resp.StatusCode
	res.Control = parseControl(resp.Header.Values(HeaderDelivery))
	res.Body, res.Truncated = s.readBody(resp.Body)
	res.Latency = s.now().Sub(at)
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		res.Outcome = references.OutcomeDelivered
		return res
	case resp.StatusCode == http.StatusGone:
		res.Outcome = references.OutcomeGone
	}
	res.Err = &StatusError{StatusCode: resp.StatusCode, Location: resp.Header.Get("Location")}
	res.RetryAfter, _ = retryafter.Parse(resp.Header.Get("Retry-After"), at) // 0 when absent or unreadable
	return res
}

// newRequest builds the signed POST.
func (s *Sender) newRequest(ctx context.Context, req Request, at time.Time) (*http.Request, error) {
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %s", ErrInvalidCallbackURL, redactURL(req.URL))
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(req.Body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCallbackURL, err)
	}
	if err := webhook.SetHeadersWithStyle(hreq.Header, req.Headers, req.Secrets, req.UpdateID, at, req.Body); err != nil {
		return nil, fmt.Errorf("sign %s: %w", req.UpdateID, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("User-Agent", s.userAgent)
	return hreq, nil
}

// readBody keeps up to maxBody bytes and drains a little more so the connection can be
// reused; a longer body is left unread and the connection is dropped when it is
// closed. Read errors (a timeout half-way) end the body where it stopped: the status
// line has already said what the receiver meant.
func (s *Sender) readBody(body io.Reader) (string, bool) {
	buf, _ := io.ReadAll(io.LimitReader(body, int64(s.maxBody)+1))
	truncated := len(buf) > s.maxBody
	if truncated {
		buf = buf[:s.maxBody]
		_, _ = io.CopyN(io.Discard, body, drainLimit)
	}
	return strings.ToValidUTF8(string(buf), "\uFFFD"), truncated
}

// noResponse wraps a transport error. The *url.Error layer is removed because it
// repeats the method and URL, which the delivery log already has; ctx's own error is
// wrapped when ctx ended, so callers can tell shutdown from a receiver timeout.
func noResponse(ctx context.Context, err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w: %w", ErrNoResponse, cerr, err)
	}
	return fmt.Errorf("%w: %w", ErrNoResponse, err)
}

// redactURL returns raw without its password, for error messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
