package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

const listenUsage = `trackhook listen receives trackhook's webhooks on your machine, verifies each
signature and timestamp, and prints one line per update or event. Use it as a
reference's callback_url, or as an account endpoint's url, while you develop a
receiver, and to watch retries: --fail-rate answers a share of the deliveries with an
error on purpose.

Get the account's secret (it signs callbacks) with
  curl -s localhost:8080/account/webhook-secret -H "Authorization: Bearer $KEY"
or an endpoint's (it signs what goes to that endpoint) with
  curl -s localhost:8080/endpoints/ep_.../secret -H "Authorization: Bearer $KEY"
and give each secret with --secret: repeat it to listen for several destinations at
once, or for the old and the new secret during a rotation.

It reads the Standard Webhooks headers (webhook-id, ...) and, from endpoints with
header style svix, the svix- ones; batch deliveries print one line per update.

Example:
  trackhook listen --secret whsec_... --addr 127.0.0.1:9000 --fail-rate 0.2

A server sends webhooks to http://127.0.0.1 only when it runs with
--allow-insecure-callbacks --allow-private-callbacks (development only).`

// Limits of the listener.
const (
	listenMaxBody      = 5 << 20 // bytes; a webhook with a long event history is well under
	listenSeenIDs      = 10000   // webhook ids remembered to mark repeats
	listenChangesWidth = 120     // characters of change descriptions per line
	listenIDWidth      = 12      // characters of a webhook-id per line: "upd_" and 8 of its 26 random ones
)

// listenConfig is what listen reads from flags and the environment.
type listenConfig struct {
	addr       string
	secrets    []string
	failRate   float64
	failStatus int
	json       bool
	tolerance  time.Duration
}

func parseListenFlags(args []string, e env) (listenConfig, error) {
	c := listenConfig{}
	fs := newFlagSet("listen", listenUsage, e.stdout)
	fs.Func("secret", "webhook signing secret (whsec_...), the account's or an endpoint's; repeat it, or separate with commas, to accept several (destinations, or a rotation)", func(v string) error {
		for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
			c.secrets = append(c.secrets, s)
		}
		return nil
	})
	fs.StringVar(&c.addr, "addr", "127.0.0.1:9000", "address to listen on")
	fs.Float64Var(&c.failRate, "fail-rate", 0, "share of verified deliveries to answer with --status instead of 204, from 0 to 1")
	fs.IntVar(&c.failStatus, "status", http.StatusServiceUnavailable, "status of the deliveries failed on purpose (410 makes trackhook unsubscribe the reference, or disable the endpoint)")
	fs.BoolVar(&c.json, "json", false, "print each verified body instead of a summary, one compact JSON document per line")
	fs.DurationVar(&c.tolerance, "tolerance", webhook.DefaultTolerance, "how far webhook-timestamp may be from this machine's clock")
	if err := parseFlags(fs, args, e.getenv); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() != 0:
		return c, fmt.Errorf("listen takes no arguments, got %q", fs.Args())
	case len(c.secrets) == 0:
		return c, errors.New("listen needs --secret whsec_... (GET /account/webhook-secret or GET /endpoints/{id}/secret shows it)")
	case !(c.failRate >= 0 && c.failRate <= 1):
		return c, fmt.Errorf("--fail-rate must be between 0 and 1, not %v", c.failRate)
	case c.failStatus < 300 || c.failStatus > 599:
		return c, fmt.Errorf("--status must be a status from 300 to 599 (trackhook retries anything but 2xx), not %d", c.failStatus)
	case c.tolerance <= 0:
		return c, errors.New("--tolerance must be above 0")
	}
	return c, nil
}

// listen is `trackhook listen`: it serves until ctx ends.
func listen(ctx context.Context, args []string, e env) error {
	c, err := parseListenFlags(args, e)
	if err != nil {
		return err
	}
	rcv, err := newReceiver(c, e.stdout, e.stderr, time.Now, rand.Float64)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(e.stderr, "listening on http://%s/ for webhooks; use it as a callback_url or an endpoint's url. Ctrl-C stops.\n", ln.Addr())
	if c.failRate > 0 {
		fmt.Fprintf(e.stderr, "answering %.0f%% of verified deliveries with %d on purpose.\n", c.failRate*100, c.failStatus)
	}

	select {
	case err = <-served:
		return fmt.Errorf("listen: %w", err)
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(stopCtx)
}

// receiver is the handler of listen: verify, decide the answer, print a line.
type receiver struct {
	verifier   *webhook.Verifier
	failRate   float64
	failStatus int
	json       bool
	now        func() time.Time
	rand       func() float64 // in [0, 1); called with mu held

	mu     sync.Mutex // serialises output and the seen set
	stdout io.Writer
	stderr io.Writer
	seen   map[string]bool // webhook ids answered with 2xx
}

func newReceiver(c listenConfig, stdout, stderr io.Writer, now func() time.Time, random func() float64) (*receiver, error) {
	v, err := webhook.NewVerifier(c.secrets...)
	if err != nil {
		return nil, fmt.Errorf("--secret: %w", err)
	}
	v.Tolerance = c.tolerance
	v.Now = now
	return &receiver{
		verifier: v, failRate: c.failRate, failStatus: c.failStatus, json: c.json,
		now: now, rand: random, stdout: stdout, stderr: stderr, seen: map[string]bool{},
	}, nil
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	at := r.now()
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "trackhook listen takes webhooks: POST only", http.StatusMethodNotAllowed)
		return
	}
	id := req.Header.Get(webhook.HeaderID)
	if id == "" {
		id = req.Header.Get(webhook.HeaderSvixID) // an endpoint with svix headers, through a proxy that kept only those
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, listenMaxBody))
	if err != nil {
		r.reject(w, at, id, http.StatusRequestEntityTooLarge, "NOT VERIFIED", fmt.Sprintf("body not read: %v", err))
		return
	}
	if err := r.verifier.Verify(req.Header, body); err != nil {
		r.reject(w, at, id, http.StatusUnauthorized, "NOT VERIFIED", whyNotVerified(err))
		return
	}
	d, err := webhook.DecodeDelivery(body)
	if err != nil {
		r.reject(w, at, id, http.StatusBadRequest, "REFUSED", "verified, but "+err.Error())
		return
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	status := http.StatusNoContent
	if r.failRate > 0 && r.rand() < r.failRate {
		status = r.failStatus
	}
	repeat := r.seen[id]
	if status < 300 {
		if len(r.seen) >= listenSeenIDs {
			clear(r.seen) // only marks repeats: forgetting old ids is harmless
		}
		r.seen[id] = true
	}
	switch {
	case r.json && status < 300:
		// One document per line, for jq and friends: a sender other than trackhook
		// may have indented its JSON. The content is unchanged.
		var line bytes.Buffer
		if json.Compact(&line, body) != nil {
			line.Reset()
			line.Write(body) // Decode read it, so this does not happen
		}
		fmt.Fprintf(r.stdout, "%s\n", line.Bytes())
	case r.json:
		fmt.Fprintf(r.stderr, "%s %s answered %d on purpose (--fail-rate); trackhook will retry it\n", clock(at), oneLine(id), status)
	default:
		for _, line := range summaries(at, id, d, status, repeat) {
			fmt.Fprintln(r.stdout, line)
		}
	}
	w.WriteHeader(status)
}

// reject answers a delivery that cannot be used and says why on stderr.
func (r *receiver) reject(w http.ResponseWriter, at time.Time, id string, status int, verdict, why string) {
	if id == "" {
		id = "(no webhook-id)"
	}
	r.mu.Lock()
	fmt.Fprintf(r.stderr, "%s %s %s -> %d: %s\n", clock(at), verdict, oneLine(truncateText(id, 64)), status, oneLine(why))
	r.mu.Unlock()
	http.Error(w, http.StatusText(status), status)
}

// whyNotVerified words a verification error with what usually causes it.
func whyNotVerified(err error) string {
	switch {
	case errors.Is(err, webhook.ErrNoMatchingSignature):
		return err.Error() + " (a different --secret than the account's, or the body was changed on the way)"
	case errors.Is(err, webhook.ErrTooOld), errors.Is(err, webhook.ErrTooNew):
		return err.Error() + " (check both clocks, or a replayed request)"
	case errors.Is(err, webhook.ErrMissingHeader):
		return err.Error() + " (neither a Standard Webhooks nor a Svix-style request)"
	}
	return err.Error()
}

// summaries are the lines printed for a verified delivery with webhook-id id: one
// for an update, one per update of a batch, one for an operational event.
func summaries(at time.Time, id string, d *webhook.Delivery, status int, repeat bool) []string {
	switch {
	case d.Batch != nil:
		lines := make([]string, len(d.Batch.Data))
		for i, u := range d.Batch.Data {
			// Each line names its own update: the batch's webhook-id names them all.
			lines[i] = summary(at, u.ID, u, fmt.Sprintf("in a batch of %d", len(d.Batch.Data)), status, repeat)
		}
		return lines
	case d.Event != nil:
		return []string{eventSummary(at, id, d.Event, status, repeat)}
	}
	return []string{summary(at, id, d.Update.Data, "", status, repeat)}
}

// summary is the line printed for a verified update, named by id shortened (a retry
// shows the same one), with a note after the status when given:
//
//	15:04:05 verified upd_7Q2XK3AB ref_K3... MSCU1234566 shipment.updated #3 -> 204  Departed Rotterdam; ETA ...
func summary(at time.Time, id string, u webhook.Update, note string, status int, repeat bool) string {
	ident := identifier(u.Reference)
	var b strings.Builder
	fmt.Fprintf(&b, "%s verified %s %s %s %s #%d -> %d", clock(at), shortID(id), u.ReferenceID, ident, u.Type, u.Sequence, status)
	writeNotes(&b, note, status, repeat)
	var details []string
	for _, c := range u.Changes {
		details = append(details, c.Description)
	}
	if u.Error != "" {
		details = append(details, "error: "+u.Error)
	}
	if u.UnsubscribeReason != "" {
		details = append(details, "reason: "+string(u.UnsubscribeReason))
	}
	writeDetails(&b, details)
	return oneLine(b.String())
}

// eventSummary is the line printed for a verified operational or test event:
//
//	15:04:05 verified evt_7Q2XK3AB endpoint.disabled -> 204  endpoint ep_... https://... disabled: failing
func eventSummary(at time.Time, id string, e *webhook.OperationalEvent, status int, repeat bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s verified %s %s -> %d", clock(at), shortID(id), e.Type, status)
	writeNotes(&b, "", status, repeat)
	data := e.Data
	var details []string
	if data.EndpointID != "" {
		details = append(details, strings.TrimSpace("endpoint "+data.EndpointID+" "+data.EndpointURL))
	}
	if data.DisabledReason != "" {
		details = append(details, "disabled: "+string(data.DisabledReason))
	}
	if data.MessageID != "" {
		msg := "gave up " + data.MessageID
		if data.ReferenceID != "" {
			msg += " of " + data.ReferenceID
		}
		details = append(details, fmt.Sprintf("%s after %d attempts", msg, data.Attempts))
	}
	switch {
	case data.LastError != "": // it names the status, if there was one
		details = append(details, "last: "+data.LastError)
	case data.LastStatusCode != 0:
		details = append(details, fmt.Sprintf("last: %d", data.LastStatusCode))
	}
	if data.Message != "" {
		details = append(details, data.Message)
	}
	writeDetails(&b, details)
	return oneLine(b.String())
}

func writeNotes(b *strings.Builder, note string, status int, repeat bool) {
	if note != "" {
		b.WriteString(" (" + note + ")")
	}
	if status >= 300 {
		b.WriteString(" (on purpose)")
	}
	if repeat {
		b.WriteString(" (again: already received)")
	}
}

func writeDetails(b *strings.Builder, details []string) {
	if len(details) > 0 {
		b.WriteString("  ")
		b.WriteString(truncateText(strings.Join(details, "; "), listenChangesWidth))
	}
}

// oneLine replaces control characters (a description with a line break, say) with
// spaces, so that each delivery stays one line of output.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// identifier returns the container, bill of lading or booking number the update is about.
func identifier(s webhook.ReferenceSummary) string {
	ref := references.Reference{ContainerID: s.ContainerID, BillOfLading: s.BillOfLading, BookingNumber: s.BookingNumber}
	_, ident := ref.Identifier()
	return ident
}

func clock(t time.Time) string { return t.Format("15:04:05") }

// shortID returns the first listenIDWidth characters of a webhook-id: enough to tell
// deliveries apart and to find the update with, short enough for the line.
func shortID(id string) string {
	r := []rune(id)
	return string(r[:min(len(r), listenIDWidth)])
}

// truncateText shortens s to at most n runes, marking the cut with "...".
func truncateText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}
