// Package webhook signs and verifies trackhook's webhooks, which follow the Standard
// Webhooks specification (https://www.standardwebhooks.com), and decodes their payload.
//
// A receiver needs three things from this package: a [Verifier] built from the signing
// secret(s) that trackhook showed when the account (or the endpoint) was set up, a call to
// [Verifier.Verify] with the request headers and the raw body exactly as received, and
// [Decode] to read the body once it is known to be authentic:
//
//	v, err := webhook.NewVerifier(os.Getenv("TRACKHOOK_WEBHOOK_SECRET"))
//	...
//	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
//	if err := v.Verify(r.Header, body); err != nil {
//		http.Error(w, "bad signature", http.StatusUnauthorized)
//		return
//	}
//	p, err := webhook.Decode(body)
//
// # The scheme
//
// Every request carries three headers:
//
//   - webhook-id: the update's id (upd_...), or a batch's or an operational event's.
//     It stays the same across retries of one delivery, so a receiver can use it to
//     ignore a delivery it has already processed.
//   - webhook-timestamp: the time of this attempt, in Unix seconds. It changes on each
//     retry and bounds how long a captured request could be replayed.
//   - webhook-signature: one or more space-separated "v1,<base64>" entries, each the
//     HMAC-SHA256, keyed with the bytes of one live secret, of
//     "<webhook-id>.<webhook-timestamp>.<body>".
//
// Secrets are written "whsec_" followed by the standard base64 encoding of the key
// bytes. While a secret is being rotated, trackhook signs with both the old and the new
// one, so a receiver configured with either keeps verifying; [Verifier] also accepts
// several secrets for the receiving side of a rotation.
//
// Verification ignores signatures of other versions (for example "v1a," asymmetric
// signatures), compares in constant time, and refuses a timestamp more than the
// tolerance (5 minutes by default) away from the receiver's clock.
//
// # Endpoints: batches, operational events, Svix header names
//
// An account endpoint may get more than single updates: with format batch, a
// [Batch] of consecutive updates of one reference per POST; and, when it subscribed,
// operational events ([OperationalEvent]: endpoint.disabled,
// message.attempt.exhausted) and the endpoint.test event. [DecodeDelivery] reads any
// of them. [Catalogue] lists every type and tag with an example body.
//
// An endpoint with header style svix gets svix-id, svix-timestamp and
// svix-signature beside the webhook- headers, with the same values, for receivers
// written against Svix's libraries. [Verifier.Verify] reads the webhook- headers,
// and the svix- ones only when none of the webhook- headers is present, so that one
// request never has two sources for one value.
package webhook
