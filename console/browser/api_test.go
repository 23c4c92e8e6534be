package browser_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/trackhook/trackhook/references"
)

// call makes an API request as account (its admin key) and decodes a JSON answer into
// out when out is not nil. The tests set up data and check outcomes through the API,
// and act through the browser.
func (s *suite) call(t *testing.T, account, method, path string, body, out any) int {
	t.Helper()
	return s.callKey(t, s.keys[account], method, path, body, out)
}

// callWith makes an API request with key and returns the status.
func (s *suite) callWith(t *testing.T, key, method, path string, body any) int {
	t.Helper()
	return s.callKey(t, key, method, path, body, nil)
}

func (s *suite) callKey(t *testing.T, key, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

// track creates a reference of a container with the demo carrier through the API and
// returns its id.
func (s *suite) track(t *testing.T, account, container, callback string) string {
	t.Helper()
	body := map[string]any{"container_id": container, "carrier_code": "DEMO"}
	if callback != "" {
		body["callback_url"] = callback
	}
	var ref struct {
		ID string `json:"id"`
	}
	if status := s.call(t, account, http.MethodPost, "/references", body, &ref); status != http.StatusCreated || ref.ID == "" {
		t.Fatalf("track %s as %s: %d", container, account, status)
	}
	return ref.ID
}

// addEndpoint creates an endpoint for every event type through the API and returns
// its id.
func (s *suite) addEndpoint(t *testing.T, account, url string) string {
	t.Helper()
	var ep struct {
		ID string `json:"id"`
	}
	if status := s.call(t, account, http.MethodPost, "/endpoints", map[string]any{"url": url, "description": "set up by the test"}, &ep); status != http.StatusCreated || ep.ID == "" {
		t.Fatalf("add an endpoint as %s: %d", account, status)
	}
	return ep.ID
}

// referenceCount returns how many references account has.
func (s *suite) referenceCount(t *testing.T, account string) int {
	t.Helper()
	var page struct {
		References []json.RawMessage `json:"references"`
	}
	if status := s.call(t, account, http.MethodGet, "/references?limit=500", nil, &page); status != http.StatusOK {
		t.Fatalf("list the references of %s: %d", account, status)
	}
	return len(page.References)
}

// containerID returns a valid ISO 6346 container number: owner (3 letters + U) and a
// six-digit serial, with its check digit.
func containerID(owner string, serial int) string {
	first10 := fmt.Sprintf("%s%06d", owner, serial%1_000_000)
	return fmt.Sprintf("%s%d", first10, references.ContainerCheckDigit(first10))
}
