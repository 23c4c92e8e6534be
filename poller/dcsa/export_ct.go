package dcsa

// What the DCSA Container Tracking 3.0 source (poller/dcsa3) reuses of this package:
// the HTTP side of a Client (limits, credentials, error answers), the text and time
// rules of the event parser, the carrier block of the sources file, and the push
// model of T&T 2.2. A carrier's CT 3.0 API is
// reached with the same settings as its T&T 2.2 API, and fails in the same ways.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/trackhook/trackhook/poller"
	"github.com/trackhook/trackhook/references"
)

// PageRequest is a GET request that Client.GetPage makes for another DCSA API.
type PageRequest struct {
	// URL is the full URL, query included; its host should be the base_url's, where
	// the credentials are meant to go.
	URL *url.URL
	// APIVersion is sent as the API-Version header ("3.0.0"; T&T's "2" when empty).
	APIVersion string
	// ErrorDetails, when set, reads the details of an error answer whose body is not
	// in T&T 2.2's form ({"errors": [{"reason", "message"}]}), such as CT 3.0's
	// feedbackElements. It gets the body with the credentials already redacted.
	ErrorDetails func(body []byte) []ErrorDetail
}

// PageResponse is a 200 answer to Client.GetPage. Close it: until then it holds one
// of the client's max_concurrency slots.
type PageResponse struct {
	Header http.Header
	// Body reads at most Config.MaxBodyBytes; past that it fails with a
	// *references.SourceError (a bad answer) that names max_body_bytes.
	Body io.Reader

	resp    *http.Response
	release func()
}

// Close closes the body and frees the client's slot. It may be called more than once.
func (r *PageResponse) Close() error {
	if r.release == nil {
		return nil
	}
	r.release()
	r.release = nil
	return r.resp.Body.Close()
}

// GetPage makes one GET request as Fetch makes each page's: within the client's
// concurrency and rate limits, with its auth headers and OAuth2 token (fetched again
// when the carrier refuses it). An answer other than 200 is the error Fetch returns
// for it: wrapping references.ErrShipmentNotFound for the API's own 404, else a
// *references.SourceError of the status's kind, with Retry-After read and the
// credentials redacted from the text.
func (c *Client) GetPage(ctx context.Context, r PageRequest) (*PageResponse, error) {
	if err := c.acquire(ctx); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			c.release()
		}
	}()

	resp, err := c.do(ctx, http.MethodGet, r.URL.String(), nil, r.APIVersion)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		if r.ErrorDetails != nil {
			resp.Body = c.asV2ErrorBody(resp, r.ErrorDetails)
		}
		return nil, c.statusError(resp)
	}
	ok = true
	limited := &limitedReader{r: resp.Body, left: c.cfg.MaxBodyBytes}
	return &PageResponse{
		Header:  resp.Header,
		Body:    &bodyLimitError{r: limited, max: c.cfg.MaxBodyBytes},
		resp:    resp,
		release: c.release,
	}, nil
}

// asV2ErrorBody reads an error answer and, when T&T 2.2's form gives no details and
// details finds some, rewrites it in that form, so that statusError reads it as it
// reads a T&T 2.2 answer.
func (c *Client) asV2ErrorBody(resp *http.Response, details func([]byte) []ErrorDetail) io.ReadCloser {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	keep := io.NopCloser(bytes.NewReader(body))
	if len(newAPIError(resp.StatusCode, body).Details) > 0 {
		return keep
	}
	found := details(redact(body, c.credentialsOf(resp.Request)))
	if len(found) == 0 {
		return keep
	}
	type v2Detail struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}
	v2 := struct {
		Errors []v2Detail `json:"errors"`
	}{}
	for _, d := range found {
		v2.Errors = append(v2.Errors, v2Detail{Reason: d.Reason, Message: d.Message})
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if enc.Encode(v2) != nil {
		return keep
	}
	return io.NopCloser(&out)
}

// bodyLimitError turns errBodyTooLarge into the error Fetch returns for it.
type bodyLimitError struct {
	r   io.Reader
	max int64
}

func (b *bodyLimitError) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if errors.Is(err, errBodyTooLarge) {
		err = badAnswer(fmt.Errorf("response body over %d bytes (max_body_bytes)", b.max))
	}
	return n, err
}

// BodyError classifies an error met reading a PageResponse's body as Fetch does: the
// connection failing or timing out leaves the source unavailable, a cancelled poll
// is nobody's fault, an error that already says its kind (max_body_bytes) keeps it,
// and anything else is an answer that cannot be used.
func BodyError(ctx context.Context, err error) error {
	var kind *references.SourceError
	if errors.As(err, &kind) {
		return err
	}
	return bodyError(ctx, err)
}

// CarrierBlock is the dcsa driver's carrier block in a sources file (base_url, auth,
// timeout and the limits), for the driver of another DCSA API that takes the same
// keys: embed it in that driver's block (with yaml:",inline") and build its Config
// with Config.
type CarrierBlock = carrierBlock

// Config returns the Config the block describes, with ${NAME} expanded from b and
// checked, as the dcsa driver builds it; errors name the key at fault.
func (cb carrierBlock) Config(b poller.Block) (Config, error) {
	cfg := Config{
		BaseURL:           cb.BaseURL,
		Timeout:           time.Duration(cb.Timeout),
		RequestsPerSecond: cb.RequestsPerSecond,
		MaxConcurrency:    cb.MaxConcurrency,
		MaxPages:          cb.MaxPages,
		MaxEvents:         cb.MaxEvents,
		MaxBodyBytes:      cb.MaxBodyBytes,
	}
	if len(cb.Auth.Headers) > 0 {
		// A copy: expandEnv writes the expanded values into the map.
		cfg.Auth.Headers = make(map[string]string, len(cb.Auth.Headers))
		for k, v := range cb.Auth.Headers {
			cfg.Auth.Headers[k] = v
		}
	}
	if o := cb.Auth.OAuth2; o != nil {
		cfg.Auth.OAuth2 = &OAuth2{TokenURL: o.TokenURL, ClientID: o.ClientID, ClientSecret: o.ClientSecret, Scopes: o.Scopes}
	}
	if err := expandEnv(&cfg, b); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// WithDefaults returns a copy of c with its zero limits replaced by the defaults, as
// New fills them.
func (c Config) WithDefaults() Config { return c.withDefaults() }

// PushModel says that a T&T 2.2 carrier pushes through subscriptions: with push: true
// in the sources file, trackhook subscribes for each reference.
func (c Config) PushModel() poller.PushModel { return poller.PushSubscription }

// Text is the JSON string field of the event parser: it also takes a number or a
// boolean as its literal text and null as empty; an object or an array is an error,
// which makes the event it is in skipped.
type Text = text

// MaxIDLen and MaxTextLen bound what one event carries into the store and the
// webhooks: its id, and each of its texts.
const (
	MaxIDLen   = maxIDLen
	MaxTextLen = maxTextLen
)

// Clean trims s, replaces invalid UTF-8 and control characters, drops invisible
// format characters, and cuts it to at most max bytes on a character boundary: what
// the parser does to every text of an event.
func Clean(s string, max int) string { return clean(s, max) }

// ParseTime reads an event time as the parser does: RFC 3339 with a zone (seconds
// optional), in the years 1970 to 2200, returned in UTC.
func ParseTime(s string) (time.Time, error) { return parseTime(s) }

// ISOEquipmentCode returns code upper case when it is an ISO 6346 size and type code
// (22G1, L5G1), "" otherwise.
func ISOEquipmentCode(code string) string { return isoEquipmentCode(code) }

// OwnEvents returns the events of container and those that name no container, as
// Fetch keeps them for a container reference; ok is false when the events name other
// containers and never this one.
func OwnEvents(events []references.Event, container string) (own []references.Event, ok bool) {
	return ownEvents(events, container)
}
