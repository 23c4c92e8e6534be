package dcsa

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/trackhook/trackhook/references"
)

// subscriptionAPI answers the subscription operations of v2.2 from memory, as the
// specification describes them: 201 with the subscription on create, 200 on get, 204
// on a new secret and on delete, 404 in DCSA's error shape for an unknown id.
type subscriptionAPI struct {
	mu      sync.Mutex
	n       int
	subs    map[string]map[string]any // id -> body as created, secret removed
	secrets map[string][]byte         // id -> decoded secret
}

func newSubscriptionAPI() *subscriptionAPI {
	return &subscriptionAPI{subs: map[string]map[string]any{}, secrets: map[string][]byte{}}
}

var subscriptionPath = regexp.MustCompile(`^/v2/event-subscriptions(?:/([^/]+)(/secret)?)?$`)

func (a *subscriptionAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := subscriptionPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		writeDCSAError(w, http.StatusNotFound, "notFound", "no such path")
		return
	}
	id, secret := m[1], m[2] != ""
	a.mu.Lock()
	defer a.mu.Unlock()
	var body map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeDCSAError(w, http.StatusBadRequest, "invalidBody", err.Error())
			return
		}
	}
	switch {
	case r.Method == http.MethodPost && id == "":
		key, err := base64.StdEncoding.DecodeString(fmt.Sprint(body["secret"]))
		if err != nil || len(key) != SecretSize {
			// DCSA's reference implementation wants exactly 64 bytes.
			writeDCSAError(w, http.StatusBadRequest, "invalidSecret", "the secret must be 64 bytes, base64 encoded")
			return
		}
		a.n++
		id = fmt.Sprintf("3cecb101-7a1a-43a4-9d62-e88a1316%04d", a.n)
		delete(body, "secret")
		body["subscriptionID"] = id
		a.subs[id], a.secrets[id] = body, key
		writeJSON(w, http.StatusCreated, body)
	case r.Method == http.MethodGet && id == "":
		var list []map[string]any
		for _, s := range a.subs {
			list = append(list, s)
		}
		writeJSON(w, http.StatusOK, list)
	case a.subs[id] == nil:
		writeDCSAError(w, http.StatusNotFound, "notFound", "no subscription "+id)
	case r.Method == http.MethodGet && !secret:
		writeJSON(w, http.StatusOK, a.subs[id])
	case r.Method == http.MethodPut && secret:
		key, err := base64.StdEncoding.DecodeString(fmt.Sprint(body["secret"]))
		if err != nil || len(key) != SecretSize {
			writeDCSAError(w, http.StatusBadRequest, "invalidSecret", "the secret must be 64 bytes, base64 encoded")
			return
		}
		a.secrets[id] = key
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodDelete && !secret:
		delete(a.subs, id)
		delete(a.secrets, id)
		w.WriteHeader(http.StatusNoContent)
	default:
		writeDCSAError(w, http.StatusMethodNotAllowed, "methodNotAllowed", r.Method)
	}
}

func (a *subscriptionAPI) secretOf(id string) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.secrets[id]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("API-Version", "2.2.0")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func setupSubscriptions(t *testing.T, cfg Config) (*Client, *specServer, *subscriptionAPI) {
	t.Helper()
	api := newSubscriptionAPI()
	s := newSpecServer(t, api.ServeHTTP)
	cfg.BaseURL = s.baseURL()
	c, err := New("MAEU", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, s, api
}

func TestSubscriptions_EveryRequestMatchesTheV22Schema(t *testing.T) {
	c, srv, api := setupSubscriptions(t, Config{Auth: Auth{Headers: map[string]string{"API-Key": "k3y-for-tests"}}})
	ctx := t.Context()
	refs := []struct {
		ref    references.Reference
		field  string
		types  []references.EventType
		wantET []any
	}{
		{containerRef("MSKU7261948"), "equipmentReference", nil, nil},
		{references.Reference{ID: "ref_2", BillOfLading: "MAEU234567891"}, "transportDocumentReference", []references.EventType{references.EventEquipment, references.EventTransport}, []any{"EQUIPMENT", "TRANSPORT"}},
		{references.Reference{ID: "ref_3", BookingNumber: "234567891"}, "carrierBookingReference", []references.EventType{references.EventShipment, references.EventShipment}, []any{"SHIPMENT"}},
	}
	for i, tc := range refs {
		secret := NewSecret()
		callback := fmt.Sprintf("https://trackhook.example/inbound/dcsa/MAEU/%d?x=1", i)
		sub, err := c.CreateSubscription(ctx, SubscriptionRequest{CallbackURL: callback, Secret: secret, Reference: tc.ref, EventTypes: tc.types})
		if err != nil {
			t.Fatalf("CreateSubscription %s: %v", tc.field, err)
		}
		kind, ident := tc.ref.Identifier()
		if sub.ID == "" || sub.CallbackURL != callback || sub.Kind != kind || sub.Identifier != ident {
			t.Errorf("CreateSubscription %s = %+v", tc.field, sub)
		}
		if !bytes.Equal(api.secretOf(sub.ID), secret) {
			t.Errorf("%s: the carrier decoded another secret than the one given", tc.field)
		}
		reqs := srv.recorded()
		var sent map[string]any
		if err := json.Unmarshal(reqs[len(reqs)-1].Body, &sent); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"callbackUrl": callback, "secret": base64.StdEncoding.EncodeToString(secret), tc.field: ident}
		if tc.wantET != nil {
			want["eventType"] = tc.wantET
		}
		if fmt.Sprint(sent) != fmt.Sprint(want) {
			t.Errorf("%s: sent %v, want %v", tc.field, sent, want)
		}

		got, err := c.GetSubscription(ctx, sub.ID)
		if err != nil {
			t.Fatalf("GetSubscription: %v", err)
		}
		if got.ID != sub.ID || got.Identifier != ident || !slices.Equal(got.EventTypes, sub.EventTypes) {
			t.Errorf("GetSubscription = %+v, want %+v", got, sub)
		}
		rotated := NewSecret()
		if err := c.UpdateSecret(ctx, sub.ID, rotated); err != nil {
			t.Fatalf("UpdateSecret: %v", err)
		}
		if !bytes.Equal(api.secretOf(sub.ID), rotated) {
			t.Errorf("the carrier did not get the new secret")
		}
	}
	list, err := c.ListSubscriptions(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("ListSubscriptions = %d subscriptions, %v; want 3", len(list), err)
	}
	for _, s := range list {
		if err := c.DeleteSubscription(ctx, s.ID); err != nil {
			t.Fatalf("DeleteSubscription: %v", err)
		}
	}
	for _, r := range srv.recorded() {
		if r.Header.Get("API-Key") != "k3y-for-tests" || r.Header.Get("API-Version") != "2" {
			t.Errorf("%s %s: credentials or API-Version missing: %v", r.Method, r.Path, r.Header)
		}
		if len(r.Body) > 0 && r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: Content-Type %q", r.Method, r.Path, r.Header.Get("Content-Type"))
		}
	}
	if n := len(srv.recorded()); n != 3*3+1+3 {
		t.Errorf("the server got %d requests, want 13", n)
	}
}

func TestCreateSubscription_RefusesAnInvalidRequestWithoutSendingIt(t *testing.T) {
	valid := SubscriptionRequest{CallbackURL: "https://trackhook.example/inbound", Secret: NewSecret(), Reference: containerRef("MSKU7261948")}
	tests := []struct {
		name   string
		change func(*SubscriptionRequest)
		want   string
	}{
		{"no callback", func(r *SubscriptionRequest) { r.CallbackURL = "" }, "callback URL: is required"},
		{"relative callback", func(r *SubscriptionRequest) { r.CallbackURL = "/inbound" }, "absolute"},
		{"callback with credentials", func(r *SubscriptionRequest) { r.CallbackURL = "https://u:p@trackhook.example/" }, "credentials"},
		{"callback with a fragment", func(r *SubscriptionRequest) { r.CallbackURL = "https://trackhook.example/#x" }, "fragment"},
		{"callback too long", func(r *SubscriptionRequest) { r.CallbackURL = "https://trackhook.example/" + strings.Repeat("a", 3000) }, "over 2048"},
		{"no secret", func(r *SubscriptionRequest) { r.Secret = nil }, "has 0 bytes"},
		{"short secret", func(r *SubscriptionRequest) { r.Secret = make([]byte, MinSecretSize-1) }, "has 31 bytes"},
		{"long secret", func(r *SubscriptionRequest) { r.Secret = make([]byte, SecretSize+1) }, "has 65 bytes"},
		{"no identifier", func(r *SubscriptionRequest) { r.Reference = references.Reference{ID: "ref_1"} }, "no identifier"},
		{"bill of lading too long", func(r *SubscriptionRequest) {
			r.Reference = references.Reference{ID: "ref_1", BillOfLading: strings.Repeat("B", MaxTransportDocumentReference+1)}
		}, "at most 20 characters"},
		{"unknown event type", func(r *SubscriptionRequest) { r.EventTypes = []references.EventType{"IOT"} }, `"IOT" is not`},
	}
	c, srv, _ := setupSubscriptions(t, Config{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := valid
			tc.change(&req)
			_, err := c.CreateSubscription(t.Context(), req)
			if !errors.Is(err, ErrInvalidSubscription) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrInvalidSubscription saying %q", err, tc.want)
			}
		})
	}
	if n := len(srv.recorded()); n != 0 {
		t.Errorf("the server got %d requests, want none", n)
	}
}

func TestSubscriptions_RefuseAnIDThatIsNotOneWithoutSending(t *testing.T) {
	c, srv, _ := setupSubscriptions(t, Config{})
	for _, id := range []string{"", ".", "..", "../events", "a/b", "a b", "%2e%2e", strings.Repeat("a", 129)} {
		if _, err := c.GetSubscription(t.Context(), id); !errors.Is(err, ErrInvalidSubscription) {
			t.Errorf("GetSubscription(%q) = %v, want ErrInvalidSubscription", id, err)
		}
		if err := c.UpdateSecret(t.Context(), id, NewSecret()); !errors.Is(err, ErrInvalidSubscription) {
			t.Errorf("UpdateSecret(%q) = %v, want ErrInvalidSubscription", id, err)
		}
		if err := c.DeleteSubscription(t.Context(), id); !errors.Is(err, ErrInvalidSubscription) {
			t.Errorf("DeleteSubscription(%q) = %v, want ErrInvalidSubscription", id, err)
		}
	}
	if err := c.UpdateSecret(t.Context(), "3cecb101-7a1a-43a4-9d62-e88a131651e2", []byte("short")); !errors.Is(err, ErrInvalidSubscription) {
		t.Errorf("UpdateSecret with a 5-byte secret = %v, want ErrInvalidSubscription", err)
	}
	if n := len(srv.recorded()); n != 0 {
		t.Errorf("the server got %d requests, want none", n)
	}
}

func TestSubscriptions_AnUnknownSubscription(t *testing.T) {
	const id = "3cecb101-7a1a-43a4-9d62-e88a131651e2"
	c, _, _ := setupSubscriptions(t, Config{})
	ctx := t.Context()
	if _, err := c.GetSubscription(ctx, id); !errors.Is(err, ErrSubscriptionNotFound) {
		t.Errorf("GetSubscription = %v, want ErrSubscriptionNotFound", err)
	}
	if err := c.UpdateSecret(ctx, id, NewSecret()); !errors.Is(err, ErrSubscriptionNotFound) {
		t.Errorf("UpdateSecret = %v, want ErrSubscriptionNotFound", err)
	}
	if err := c.DeleteSubscription(ctx, id); err != nil {
		t.Errorf("DeleteSubscription of a subscription already gone = %v, want nil", err)
	}
}

// answering is a client whose server answers every request with status, header and
// body.
func answering(t *testing.T, status int, contentType, body string, header ...string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := New("MAEU", Config{BaseURL: srv.URL + fixturePrefix})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSubscriptions_CarrierFailuresAreSourceErrorsOfTheirKind(t *testing.T) {
	const id = "3cecb101-7a1a-43a4-9d62-e88a131651e2"
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		header      []string
		kind        error
		notFound    bool
	}{
		{"rate limited", 429, "application/json", `{"errors":[{"reason":"tooMany"}]}`, []string{"Retry-After", "30"}, references.ErrSourceRateLimited, false},
		{"server error", 502, "text/html", "<html>bad gateway</html>", nil, references.ErrSourceUnavailable, false},
		{"refused credentials", 401, "application/json", `{"errors":[{"reason":"invalidApiKey"}]}`, nil, references.ErrSourceBadRequest, false},
		{"a proxy's 404 page", 404, "text/html", "<html>no such page</html>", nil, references.ErrSourceBadRequest, false},
		{"the API's 404", 404, "application/json", `{"errors":[{"reason":"notFound"}]}`, nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := answering(t, tc.status, tc.contentType, tc.body, tc.header...)
			_, err := c.GetSubscription(t.Context(), id)
			if errors.Is(err, ErrSubscriptionNotFound) != tc.notFound {
				t.Errorf("GetSubscription = %v; ErrSubscriptionNotFound %v, want %v", err, !tc.notFound, tc.notFound)
			}
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("GetSubscription = %v, want %v", err, tc.kind)
			}
			var se *references.SourceError
			if tc.status == 429 && (!errors.As(err, &se) || se.RetryAfter.Seconds() != 30) {
				t.Errorf("a 429 with Retry-After: 30 gave %#v", se)
			}
		})
	}
}

func TestSubscriptions_KeepTheSecretOutOfErrorTexts(t *testing.T) {
	secret := NewSecret()
	encoded := base64.StdEncoding.EncodeToString(secret)
	c := answering(t, 400, "application/json", `{"errors":[{"reason":"invalidSecret","message":"bad secret `+encoded+`"}]}`)
	_, err := c.CreateSubscription(t.Context(), SubscriptionRequest{CallbackURL: "https://trackhook.example/cb", Secret: secret, Reference: containerRef("MSKU7261948")})
	if err == nil || strings.Contains(err.Error(), encoded) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("CreateSubscription = %v, want the echoed secret redacted", err)
	}
	err = c.UpdateSecret(t.Context(), "3cecb101-7a1a-43a4-9d62-e88a131651e2", secret)
	if err == nil || strings.Contains(err.Error(), encoded) {
		t.Errorf("UpdateSecret = %v, want the echoed secret redacted", err)
	}
}

func TestSubscriptions_RefuseUnusableAnswers(t *testing.T) {
	tests := []struct {
		name, body string
	}{
		{"no body", ""},
		{"not JSON", "<html>"},
		{"no id", `{"callbackUrl":"https://trackhook.example/cb"}`},
		{"an id that would leave the path", `{"subscriptionID":"../../v2/events"}`},
		{"another subscription", `{"subscriptionID":"aaaaaaaa-7a1a-43a4-9d62-e88a131651e2"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := answering(t, 200, "application/json", tc.body)
			_, err := c.GetSubscription(t.Context(), "3cecb101-7a1a-43a4-9d62-e88a131651e2")
			if !errors.Is(err, references.ErrSourceBadAnswer) {
				t.Errorf("GetSubscription = %v, want a bad answer", err)
			}
		})
	}
}

func TestDeleteSubscription_GoneIsNotAnErrorButAFailureIs(t *testing.T) {
	for _, tc := range []struct {
		status int
		ok     bool
	}{{204, true}, {200, true}, {404, true}, {410, true}, {500, false}, {403, false}} {
		c := answering(t, tc.status, "application/json", "")
		err := c.DeleteSubscription(t.Context(), "3cecb101-7a1a-43a4-9d62-e88a131651e2")
		if (err == nil) != tc.ok {
			t.Errorf("DeleteSubscription answered %d = %v, want ok %v", tc.status, err, tc.ok)
		}
	}
}

func TestSubscription_ReadsTheCarriersEventTypesEitherWay(t *testing.T) {
	for _, body := range []string{
		`{"subscriptionID":"s-1","eventType":["equipment","TRANSPORT","IOT"],"transportDocumentReference":"MAEU1"}`,
		`{"subscriptionID":"s-1","eventType":"EQUIPMENT, TRANSPORT","bookingReference":"x","transportDocumentReference":"MAEU1"}`,
	} {
		sub, err := parseSubscription([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		want := Subscription{ID: "s-1", EventTypes: []references.EventType{"EQUIPMENT", "TRANSPORT"}, Kind: references.KindBillOfLading, Identifier: "MAEU1"}
		if fmt.Sprint(sub) != fmt.Sprint(want) {
			t.Errorf("%s: %+v, want %+v", body, sub, want)
		}
	}
}
