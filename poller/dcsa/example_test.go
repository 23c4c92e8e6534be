package dcsa_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/trackhook/trackhook/poller/dcsa"
	"github.com/trackhook/trackhook/references"
)

// A callback for the notifications of one subscription: read the body within its
// bound, check the headers against the subscription's live secrets, map the events,
// and answer as the specification asks.
func ExampleVerifyNotificationRequest() {
	const subscription = "3cecb101-7a1a-43a4-9d62-e88a131651e2"
	oldSecret, newSecret := bytes.Repeat([]byte{1}, dcsa.SecretSize), bytes.Repeat([]byte{2}, dcsa.SecretSize)

	callback := func(w http.ResponseWriter, r *http.Request) {
		body, err := dcsa.ReadNotificationBody(r.Body)
		if err == nil {
			// During a rotation both secrets are live.
			err = dcsa.VerifyNotificationRequest(r.Header, body, subscription, [][]byte{oldSecret, newSecret})
		}
		var events []references.Event
		if err == nil {
			events, err = dcsa.ParseNotification(body)
		}
		for _, e := range events {
			fmt.Println(e.Type, e.Code, e.Classifier, e.Time.Format("2006-01-02 15:04"))
		}
		w.WriteHeader(dcsa.CallbackStatus(err))
	}

	body := []byte(`[{"eventID":"5e51e72c-d872-4b0b-a2a2-7d0b3e1b3bdb","eventType":"TRANSPORT","eventClassifierCode":"ACT",
"eventDateTime":"2024-03-20T10:15:00+01:00","eventCreatedDateTime":"2024-03-20T10:20:00+01:00","transportEventTypeCode":"ARRI",
"transportCall":{"transportCallID":"TC-1","modeOfTransport":"VESSEL","UNLocationCode":"NLRTM"}}]`)
	for _, secret := range [][]byte{newSecret, []byte("a guess")} {
		req := httptest.NewRequest(http.MethodPost, "/inbound/dcsa/MAEU/"+subscription, bytes.NewReader(body))
		req.Header.Set(dcsa.HeaderSubscriptionID, subscription)
		req.Header.Set(dcsa.HeaderNotificationSignature, dcsa.SignatureHeader(body, secret))
		rec := httptest.NewRecorder()
		callback(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// TRANSPORT ARRI ACT 2024-03-20 09:15
	// 204
	// 401
}
