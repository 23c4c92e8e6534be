package webhook_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// The secret a receiver was given when its account was set up. Keep yours out of the
// source code: read it from the environment or a secret store.
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

const body = `{"type":"shipment.updated","timestamp":"2025-03-01T09:30:00Z","data":{"id":"upd_2KWPBgLlAfxdpx2AI54pPJ85f4W","reference_id":"ref_01HQ3M","sequence":3,"type":"shipment.updated","created_at":"2025-03-01T09:30:00Z","reference":{"id":"ref_01HQ3M","container_id":"MSKU1234565","carrier_code":"MAEU","metadata":{"order":"PO-4471"}},"changes":[{"type":"eta_changed","description":"ETA at New York moved to 14 March","old":"2025-03-12T06:00:00Z","new":"2025-03-14T06:00:00Z"}]}}`

// Sending: sign the exact bytes of the body for one attempt.
func ExampleSign() {
	attempt := time.Unix(1740821400, 0) // 2025-03-01T09:30:00Z
	sig, err := webhook.Sign([]string{secret}, "upd_2KWPBgLlAfxdpx2AI54pPJ85f4W", attempt, []byte(body))
	if err != nil {
		panic(err)
	}
	fmt.Println(webhook.HeaderSignature+":", sig)
	// Output:
	// webhook-signature: v1,x3xN1HL5lViWwmuHxBarCWpv7tl80ecFONFc1QT0hp8=
}

// Receiving: verify the signature over the raw body before trusting anything in it.
func ExampleVerifier_Verify() {
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		panic(err) // a malformed secret: a configuration error
	}
	// A real receiver leaves Now unset; the example pins the clock to the attempt time.
	v.Now = func() time.Time { return time.Unix(1740821460, 0) } // one minute later

	header := http.Header{}
	header.Set("webhook-id", "upd_2KWPBgLlAfxdpx2AI54pPJ85f4W")
	header.Set("webhook-timestamp", "1740821400")
	header.Set("webhook-signature", "v1,x3xN1HL5lViWwmuHxBarCWpv7tl80ecFONFc1QT0hp8=")

	fmt.Println("genuine:", v.Verify(header, []byte(body)))

	tampered := strings.Replace(body, "2025-03-14", "2025-03-10", 1)
	err = v.Verify(header, []byte(tampered))
	fmt.Println("tampered:", err, errors.Is(err, webhook.ErrNoMatchingSignature))

	v.Now = func() time.Time { return time.Unix(1740821400+3600, 0) } // replayed an hour later
	err = v.Verify(header, []byte(body))
	fmt.Println("replayed:", errors.Is(err, webhook.ErrTooOld))
	// Output:
	// genuine: <nil>
	// tampered: no matching webhook signature true
	// replayed: true
}

// The one-call form, for code that checks a single request.
func ExampleVerify() {
	header := http.Header{}
	header.Set("webhook-id", "upd_2KWPBgLlAfxdpx2AI54pPJ85f4W")
	header.Set("webhook-timestamp", "1740821400")
	header.Set("webhook-signature", "v1,x3xN1HL5lViWwmuHxBarCWpv7tl80ecFONFc1QT0hp8=")

	now := time.Unix(1740821405, 0)
	err := webhook.Verify([]string{secret}, header, []byte(body), webhook.DefaultTolerance, now)
	fmt.Println(err)
	// Output:
	// <nil>
}

// A complete receiver: read the body with a limit, verify, decode, and answer 2xx
// quickly. The same webhook-id may arrive more than once (a retry after a lost
// response), so a receiver should skip ids it has already processed.
func ExampleVerifier_handler() {
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		panic(err)
	}
	v.Now = func() time.Time { return time.Unix(1740821400, 0) } // for the example only

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err := v.Verify(r.Header, raw); err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		p, err := webhook.Decode(raw)
		if err != nil {
			http.Error(w, "invalid payload", http.StatusBadRequest)
			return
		}
		fmt.Println("received", p.Type, "for", p.Data.Reference.ContainerID)
		w.WriteHeader(http.StatusNoContent)
	})

	req := httptest.NewRequest(http.MethodPost, "/hooks/trackhook", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if err := webhook.SetHeaders(req.Header, []string{secret}, "upd_2KWPBgLlAfxdpx2AI54pPJ85f4W", time.Unix(1740821400, 0), []byte(body)); err != nil {
		panic(err)
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println("answered", rec.Code)
	// Output:
	// received shipment.updated for MSKU1234565
	// answered 204
}

// Decode reads a verified body; Data is the update as the pull feed returns it.
func ExampleDecode() {
	p, err := webhook.Decode([]byte(body))
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Type, p.Timestamp.Format(time.RFC3339))
	fmt.Println(p.Data.Reference.ContainerID, p.Data.Reference.Metadata["order"], "update", p.Data.Sequence)
	if p.Type == references.UpdateShipment {
		for _, c := range p.Data.Changes {
			fmt.Printf("%s: %s -> %s\n", c.Type, c.Old, c.New)
		}
	}
	// Output:
	// shipment.updated 2025-03-01T09:30:00Z
	// MSKU1234565 PO-4471 update 3
	// eta_changed: 2025-03-12T06:00:00Z -> 2025-03-14T06:00:00Z
}

// ParseSecret checks a secret copied from GET /account/webhook-secret and returns its
// key bytes; a mistyped secret gives an error that never repeats the secret.
func ExampleParseSecret() {
	key, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	fmt.Println(len(key), err)
	_, err = webhook.ParseSecret("whsec_not base64!")
	fmt.Println(err)
	// Output:
	// 24 <nil>
	// invalid webhook secret: the part after "whsec_" is not standard base64
}

// During a rotation (POST /account/webhook-secret/rotate), give the receiver both the
// new and the old secret: a webhook signed with either verifies, so the receiver can
// be switched before or after trackhook starts using the new one.
func ExampleNewVerifier_rotation() {
	const newSecret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	v, err := webhook.NewVerifier(newSecret, secret)
	if err != nil {
		panic(err)
	}
	attempt := time.Unix(1740821400, 0)
	v.Now = func() time.Time { return attempt } // for the example only

	for _, sender := range []struct {
		name    string
		secrets []string
	}{
		{"before the rotation", []string{secret}},
		{"during the grace period", []string{newSecret, secret}},
		{"after the grace period", []string{newSecret}},
	} {
		header := http.Header{}
		if err := webhook.SetHeaders(header, sender.secrets, "upd_2KWPBgLlAfxdpx2AI54pPJ85f4W", attempt, []byte(body)); err != nil {
			panic(err)
		}
		fmt.Printf("%s: %v\n", sender.name, v.Verify(header, []byte(body)))
	}
	// Output:
	// before the rotation: <nil>
	// during the grace period: <nil>
	// after the grace period: <nil>
}

// An account endpoint may receive batches and operational events as well as single
// updates: DecodeDelivery tells them apart.
func ExampleDecodeDelivery() {
	bodies := []string{
		body,
		`{"type":"batch","data":[{"id":"upd_4","reference_id":"ref_01HQ3M","sequence":4,"type":"shipment.updated","tags":["shipment.eta_changed"]},{"id":"upd_5","reference_id":"ref_01HQ3M","sequence":5,"type":"shipment.updated"}]}`,
		`{"id":"evt_7","type":"endpoint.disabled","created_at":"2025-03-01T09:30:00Z","data":{"endpoint_id":"ep_1","disabled_reason":"failing"}}`,
	}
	for _, b := range bodies {
		d, err := webhook.DecodeDelivery([]byte(b))
		if err != nil {
			panic(err)
		}
		switch {
		case d.Update != nil:
			fmt.Println("update", d.Update.Data.ID, d.Update.Type)
		case d.Batch != nil:
			for _, u := range d.Batch.Data {
				fmt.Println("update", u.ID, u.Type, "in a batch of", len(d.Batch.Data), u.Tags)
			}
		case d.Event != nil:
			fmt.Println("event", d.Event.ID, d.Event.Type, d.Event.Data.EndpointID, d.Event.Data.DisabledReason)
		}
	}
	// Output:
	// update upd_2KWPBgLlAfxdpx2AI54pPJ85f4W shipment.updated
	// update upd_4 shipment.updated in a batch of 2 [shipment.eta_changed]
	// update upd_5 shipment.updated in a batch of 2 []
	// event evt_7 endpoint.disabled ep_1 failing
}
