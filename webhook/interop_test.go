package webhook_test

import (
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"

	"github.com/trackhook/trackhook/references"
	"github.com/trackhook/trackhook/webhook"
)

// The official libraries receivers use verify what trackhook sends: Svix's for an
// endpoint with header style svix, the Standard Webhooks reference library for the
// standard style; single updates, batches and operational events; and, during a
// rotation, with either of the secrets signing. Both libraries check the timestamp
// against the wall clock, so these deliveries are signed at time.Now.

const (
	interopOld = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	interopNew = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
)

func interopBodies(t *testing.T) map[string][]byte {
	t.Helper()
	bodies := map[string][]byte{}
	for _, e := range webhook.Catalogue() {
		bodies[e.Name] = e.Example // made by Encode, EncodeBatch and EncodeEvent
	}
	return bodies
}

func signed(t *testing.T, style references.HeaderStyle, secrets []string, id string, body []byte) http.Header {
	t.Helper()
	h := http.Header{}
	if err := webhook.SetHeadersWithStyle(h, style, secrets, id, time.Now(), body); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestInterop_SvixLibraryVerifiesSvixStyleDeliveries(t *testing.T) {
	t.Parallel()
	for name, body := range interopBodies(t) {
		for _, secrets := range [][]string{{interopOld}, {interopNew, interopOld}} {
			h := signed(t, references.HeadersSvix, secrets, "msg_"+tagless(name), body)
			// Svix's library reads the svix- headers first and falls back to webhook- ones:
			// without the latter, only the svix- headers can make it pass.
			for _, n := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature} {
				h.Del(n)
			}
			for _, secret := range secrets {
				wh, err := svix.NewWebhook(secret)
				if err != nil {
					t.Fatal(err)
				}
				if err := wh.Verify(body, h); err != nil {
					t.Errorf("%s signed with %d secret(s): svix does not verify with one of them: %v", name, len(secrets), err)
				}
				tampered := append([]byte(" "), body...)
				if err := wh.Verify(tampered, h); err == nil {
					t.Errorf("%s: svix verified a changed body", name)
				}
			}
		}
	}
}

func TestInterop_StandardWebhooksLibraryVerifiesStandardDeliveries(t *testing.T) {
	t.Parallel()
	for name, body := range interopBodies(t) {
		for _, secrets := range [][]string{{interopOld}, {interopNew, interopOld}} {
			h := signed(t, references.HeadersStandard, secrets, "msg_"+tagless(name), body)
			if h.Get(webhook.HeaderSvixID) != "" {
				t.Fatalf("the standard style sent svix headers: %v", h)
			}
			for _, secret := range secrets {
				wh, err := standardwebhooks.NewWebhook(secret)
				if err != nil {
					t.Fatal(err)
				}
				if err := wh.Verify(body, h); err != nil {
					t.Errorf("%s signed with %d secret(s): standardwebhooks does not verify with one of them: %v", name, len(secrets), err)
				}
				if err := wh.Verify(append(body, ' '), h); err == nil {
					t.Errorf("%s: standardwebhooks verified a changed body", name)
				}
			}
		}
	}
}

// A receiver of trackhook's own Verifier, given only the svix- headers (a proxy that
// passed those alone), verifies as well.
func TestInterop_VerifierReadsSvixHeadersAlone(t *testing.T) {
	t.Parallel()
	body := interopBodies(t)[webhook.BatchType]
	h := signed(t, references.HeadersSvix, []string{interopNew, interopOld}, "batch_ep_1_ref_1_1-2", body)
	svixOnly := http.Header{}
	for _, n := range []string{webhook.HeaderSvixID, webhook.HeaderSvixTimestamp, webhook.HeaderSvixSignature} {
		svixOnly.Set(n, h.Get(n))
	}
	for _, secret := range []string{interopOld, interopNew} {
		if err := webhook.Verify([]string{secret}, svixOnly, body, 0, time.Now()); err != nil {
			t.Errorf("Verify with svix headers alone: %v", err)
		}
	}
}

// tagless makes a catalogue name usable in a webhook-id.
func tagless(name string) string {
	out := []byte(name)
	for i, c := range out {
		if c == '.' {
			out[i] = '-'
		}
	}
	return string(out)
}
