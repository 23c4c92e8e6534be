package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/trackhook/trackhook/references"
)

// Header names of the Standard Webhooks scheme. HTTP header names are case-insensitive;
// these are the spelling the specification uses.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Header names of Svix, which signs as Standard Webhooks does under other names. An
// endpoint with header style svix gets them beside the webhook- ones, with the same
// values, so that receivers written against Svix's libraries verify unchanged.
const (
	HeaderSvixID        = "svix-id"
	HeaderSvixTimestamp = "svix-timestamp"
	HeaderSvixSignature = "svix-signature"
)

// signatureVersion marks an HMAC-SHA256 signature in the webhook-signature header.
const signatureVersion = "v1"

// maxIDLen bounds a webhook id; trackhook's ids are far shorter.
const maxIDLen = 256

// ErrInvalidID is returned by [Sign] for an id that is empty, too long, or contains a
// character other than printable ASCII without spaces and full stops. The specification
// forbids "." in the id because the signed content is delimited with full stops.
var ErrInvalidID = errors.New("invalid webhook id")

// Sign returns the value of the webhook-signature header for one delivery attempt: one
// "v1,<base64 HMAC-SHA256>" entry per secret, in the order given, separated by spaces.
// ts is the time of the attempt and is signed with second precision; body must be the
// exact bytes that will be sent.
func Sign(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	keys, err := parseSecrets(secrets)
	if err != nil {
		return "", err
	}
	unix := ts.Unix()
	entries := make([]string, len(keys))
	for i, k := range keys {
		entries[i] = signatureVersion + "," + base64.StdEncoding.EncodeToString(mac(k, id, unix, body))
	}
	return strings.Join(entries, " "), nil
}

// SetHeaders signs the attempt as [Sign] does and sets the webhook-id,
// webhook-timestamp and webhook-signature headers on h, replacing any present.
func SetHeaders(h http.Header, secrets []string, id string, ts time.Time, body []byte) error {
	return SetHeadersWithStyle(h, references.HeadersStandard, secrets, id, ts, body)
}

// SetHeadersWithStyle is [SetHeaders] for an endpoint's header style: with
// references.HeadersSvix it also sets svix-id, svix-timestamp and svix-signature to
// the same values. Any other style, "" included, is standard.
func SetHeadersWithStyle(h http.Header, style references.HeaderStyle, secrets []string, id string, ts time.Time, body []byte) error {
	sig, err := Sign(secrets, id, ts, body)
	if err != nil {
		return err
	}
	unix := strconv.FormatInt(ts.Unix(), 10)
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, unix)
	h.Set(HeaderSignature, sig)
	if style == references.HeadersSvix {
		h.Set(HeaderSvixID, id)
		h.Set(HeaderSvixTimestamp, unix)
		h.Set(HeaderSvixSignature, sig)
	}
	return nil
}

// mac computes HMAC-SHA256 over "<id>.<unix>.<body>" with key.
func mac(key []byte, id string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, unix, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

func checkID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: it is empty", ErrInvalidID)
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("%w: it is %d bytes, the limit is %d", ErrInvalidID, len(id), maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c <= ' ' || c >= 0x7f || c == '.' {
			return fmt.Errorf("%w: byte %d is %q", ErrInvalidID, i, c)
		}
	}
	return nil
}
