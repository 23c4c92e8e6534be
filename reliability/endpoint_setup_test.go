package reliability_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/trackhook/trackhook/api"
	"github.com/trackhook/trackhook/references"
)

// Helpers of the black-box suites of account endpoints (hostile_endpoints_test.go,
// security_endpoints_test.go), over the in-process API of api_setup_test.go.

// createEndpoint makes an endpoint through the API and returns it with its secret; it
// fails t unless the answer is 201.
func (a *apiServer) createEndpoint(t *testing.T, key string, body map[string]any) (api.Endpoint, string) {
	t.Helper()
	r := a.mustCall(t, key, http.MethodPost, "/endpoints", body)
	if r.status != http.StatusCreated {
		t.Fatalf("create endpoint %v: %d %s", body, r.status, r.body)
	}
	var ep api.Endpoint
	if err := json.Unmarshal(r.body, &ep); err != nil {
		t.Fatal(err)
	}
	return ep, a.endpointSecret(t, key, ep.ID)
}

// endpointSecret returns an endpoint's newest secret.
func (a *apiServer) endpointSecret(t *testing.T, key, id string) string {
	t.Helper()
	r := a.mustCall(t, key, http.MethodGet, "/endpoints/"+id+"/secret", nil)
	var sec struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(r.body, &sec); r.status != http.StatusOK || err != nil || sec.Secret == "" {
		t.Fatalf("secret of %s: %d %s %v", id, r.status, r.body, err)
	}
	return sec.Secret
}

// messageIDs returns the ids of an endpoint's messages, newest first.
func (a *apiServer) messageIDs(t *testing.T, key, endpointID string) []string {
	t.Helper()
	var page api.MessagePage
	r := a.mustCall(t, key, http.MethodGet, "/endpoints/"+endpointID+"/messages?limit=500", nil)
	if err := json.Unmarshal(r.body, &page); r.status != http.StatusOK || err != nil {
		t.Fatalf("messages of %s: %d %s %v", endpointID, r.status, r.body, err)
	}
	ids := make([]string, len(page.Messages))
	for i, m := range page.Messages {
		ids[i] = m.ID
	}
	return ids
}

// endpointsView is everything an account's key shows of its endpoints: the list,
// each endpoint with its secrets, messages (each in full) and stats, and the
// operational feed. Two views are equal when nothing of it changed.
func (a *apiServer) endpointsView(t *testing.T, key string) string {
	t.Helper()
	var sb strings.Builder
	get := func(path string) []byte {
		r := a.mustCall(t, key, http.MethodGet, path, nil)
		fmt.Fprintf(&sb, "%s %d %s\n", path, r.status, r.body)
		return r.body
	}
	var page api.EndpointPage
	if err := json.Unmarshal(get("/endpoints?limit=500"), &page); err != nil {
		t.Fatal(err)
	}
	for _, ep := range page.Endpoints {
		get("/endpoints/" + ep.ID)
		get("/endpoints/" + ep.ID + "/secret")
		for _, id := range a.messageIDs(t, key, ep.ID) {
			get("/endpoints/" + ep.ID + "/messages/" + id)
		}
		get("/endpoints/" + ep.ID + "/messages?limit=500")
		// The stats cover the last 24 hours from now: their start moves, their figures
		// must not.
		r := a.mustCall(t, key, http.MethodGet, "/endpoints/"+ep.ID+"/stats", nil)
		var st api.EndpointStats
		if err := json.Unmarshal(r.body, &st); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "stats %d %v %v %d %d %d\n", r.status, st.Counts, st.SuccessRate, st.LatencyP50MS, st.LatencyP99MS, st.Attempts)
	}
	get("/account/events?limit=500")
	return sb.String()
}

// endpointRoute is a route of one endpoint: %[1]s is the endpoint's id, %[2]s a
// message's.
type endpointRoute struct {
	method, pattern, body string
}

// endpointRoutes lists every route of one endpoint, with a body that would change it
// for those that take one.
func endpointRoutes(since string) []endpointRoute {
	return []endpointRoute{
		{http.MethodGet, "/endpoints/%[1]s", ""},
		{http.MethodPatch, "/endpoints/%[1]s", `{"url":"https://evil.example/steal"}`},
		{http.MethodPatch, "/endpoints/%[1]s", `{"enabled":false}`},
		{http.MethodDelete, "/endpoints/%[1]s", ""},
		{http.MethodGet, "/endpoints/%[1]s/secret", ""},
		{http.MethodPost, "/endpoints/%[1]s/secret/rotate", `{"grace_seconds":0}`},
		{http.MethodPost, "/endpoints/%[1]s/secret/rotate", ""},
		{http.MethodGet, "/endpoints/%[1]s/messages", ""},
		{http.MethodGet, "/endpoints/%[1]s/messages?status=pending&limit=500", ""},
		{http.MethodGet, "/endpoints/%[1]s/messages/%[2]s", ""},
		{http.MethodPost, "/endpoints/%[1]s/messages/%[2]s/resend", ""},
		{http.MethodPost, "/endpoints/%[1]s/recover", `{"since":"` + since + `"}`},
		{http.MethodPost, "/endpoints/%[1]s/test", ""},
		{http.MethodGet, "/endpoints/%[1]s/stats", ""},
	}
}

// path returns the route's path for an endpoint and a message.
func (r endpointRoute) path(endpointID, messageID string) string {
	return fmt.Sprintf(r.pattern, endpointID, messageID)
}

// bodyOrNil returns the route's body, nil when it has none.
func (r endpointRoute) bodyOrNil() any {
	if r.body == "" {
		return nil
	}
	return json.RawMessage(r.body)
}

// accountRoutes are the routes of the endpoint feature that name no endpoint.
var accountRoutes = []endpointRoute{
	{http.MethodPost, "/endpoints", `{"url":"https://hooks.example.com/x"}`},
	{http.MethodGet, "/endpoints", ""},
	{http.MethodGet, "/account/events", ""},
	{http.MethodGet, "/event-types", ""},
}

// secretNames names the secrets of the endpoint suites for assertNoSecrets.
func secretNames(key string, more map[string]string) map[string]string {
	out := map[string]string{"API key": key, "hash of the API key": references.HashAPIKey(key)}
	for k, v := range more {
		out[k] = v
		out[k+"'s key part"] = strings.TrimPrefix(v, "whsec_")
	}
	return out
}
