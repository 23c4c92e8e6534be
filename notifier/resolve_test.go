package notifier

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/trackhook/trackhook/internal/clock"
)

// setupResolve returns a Sender asking a fake DNS server with records, on a fake
// clock, and a loopback receiver answering 204.
func setupResolve(t *testing.T, allowPrivate bool, records map[string][]netip.Addr) (*Sender, *fakeDNS, *clock.Fake, *sendBundle) {
	t.Helper()
	dns := startFakeDNS(t, records)
	clk := clock.NewFake(sendTime)
	rcv := setupSend(t, SenderOptions{}, status(http.StatusNoContent))
	s := NewSender(SenderOptions{AllowPrivate: allowPrivate, Resolver: dns.resolver(), Now: clk.Now, Timeout: 5 * time.Second})
	t.Cleanup(s.CloseIdleConnections)
	return s, dns, clk, rcv
}

func loopbackPort(t *testing.T, rawURL string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(strings.TrimPrefix(rawURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// TestSender_ManyNamesOfOneAddressGiveOneDestination: names are keyed by the address
// they resolve to, literals by their canonical form, so all these are one receiver.
func TestSender_ManyNamesOfOneAddressGiveOneDestination(t *testing.T) {
	t.Parallel()
	lo := addrs("127.0.0.1")
	s, _, _, rcv := setupResolve(t, true, map[string][]netip.Addr{"a.test.": lo, "b.test.": lo, "deep.sub.c.test.": lo, "localhost.": lo})
	port := loopbackPort(t, rcv.srv.URL)
	want := "127.0.0.1:" + port
	for _, u := range []string{
		"http://127.0.0.1:" + port, "http://a.test:" + port + "/x", "http://B.TEST.:" + port, "http://deep.sub.c.test:0" + port,
		"http://localhost:" + port, "http://[::ffff:127.0.0.1]:" + port, "http://2130706433:" + port, "http://127.1:" + port,
	} {
		d, err := s.resolve(context.Background(), u)
		if err != nil || d.key() != want {
			t.Errorf("resolve(%s) = %v, %v; want the destination %s", u, d.addrs, err, want)
		}
	}
}

// TestSender_ConnectsToTheAddressItResolved: once resolved, the attempt connects to
// that address whatever the name's DNS answer has become, so no rebinding slips in
// between the check of the address and the connection.
func TestSender_ConnectsToTheAddressItResolved(t *testing.T) {
	t.Parallel()
	s, dns, _, rcv := setupResolve(t, true, map[string][]netip.Addr{"hook.test.": addrs("127.0.0.1")})
	url := "http://hook.test:" + loopbackPort(t, rcv.srv.URL) + "/hook"
	to, err := s.resolve(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	dns.set("hook.test.", addrs("192.0.2.1")...) // rebound: a documentation address nobody answers on
	asked := dns.questions()
	req := Request{URL: url, UpdateID: sendUpdateID, Body: []byte(sendBody), Secrets: []string{sendSecret}, to: to}
	if res := s.Send(context.Background(), req); res.StatusCode != http.StatusNoContent {
		t.Fatalf("Send to the resolved address: %+v", res)
	}
	if n := len(rcv.requests()); n != 1 {
		t.Fatalf("the receiver got %d requests, want 1", n)
	}
	if dns.questions() != asked {
		t.Fatal("the name was looked up again to connect")
	}
}

// TestSender_TriesTheResolvedAddressesInOrder: a name with several addresses is
// connected to the first that answers, as a dialer does with a name.
func TestSender_TriesTheResolvedAddressesInOrder(t *testing.T) {
	t.Parallel()
	// Nothing listens on 127.0.0.2 at the receiver's port (it listens on 127.0.0.1).
	s, _, _, rcv := setupResolve(t, true, map[string][]netip.Addr{"two.test.": addrs("127.0.0.2", "127.0.0.1")})
	url := "http://two.test:" + loopbackPort(t, rcv.srv.URL) + "/hook"
	to, err := s.resolve(context.Background(), url)
	if err != nil || len(to.addrs) != 2 || to.addrs[0].Addr() != netip.MustParseAddr("127.0.0.2") {
		t.Fatalf("resolve = %v, %v; want two addresses, 127.0.0.2 first", to.addrs, err)
	}
	req := Request{URL: url, UpdateID: sendUpdateID, Body: []byte(sendBody), Secrets: []string{sendSecret}, to: to}
	if res := s.Send(context.Background(), req); res.StatusCode != http.StatusNoContent {
		t.Fatalf("Send with addresses %v: %+v", to.addrs, res)
	}
}

// TestSender_RefusesANameWithAForbiddenAddressWithoutNamingIt: with the guard on, a
// name with any forbidden address is refused before anything is dialled.
func TestSender_RefusesANameWithAForbiddenAddressWithoutNamingIt(t *testing.T) {
	t.Parallel()
	s, _, _, _ := setupResolve(t, false, map[string][]netip.Addr{
		"inside.test.": addrs("10.1.2.3"), "mixed.test.": addrs("93.184.215.14", "127.0.0.1"), "public.test.": addrs("93.184.215.14"),
	})
	for _, u := range []string{"https://inside.test/", "https://mixed.test/", "https://127.0.0.1:8443/", "https://[::ffff:a9fe:a9fe]/"} {
		_, err := s.resolve(context.Background(), u)
		if !errors.Is(err, ErrForbiddenDestination) || !errors.Is(err, ErrNoResponse) {
			t.Errorf("resolve(%s) = %v, want ErrForbiddenDestination", u, err)
		}
		if strings.Contains(u, ".test") && (strings.Contains(err.Error(), "10.1.2.3") || strings.Contains(err.Error(), "127.0.0.1")) {
			t.Errorf("resolve(%s) = %q names the address the name resolved to", u, err)
		}
	}
	if d, err := s.resolve(context.Background(), "https://public.test/"); err != nil || d.key() != "93.184.215.14:443" {
		t.Errorf("resolve(public) = %v, %v", d.addrs, err)
	}
}

// TestSender_ReusesAResolvedNameForAFewSeconds: attempts in a row to one name ask DNS
// once per resolveCacheFor, on the sender's clock.
func TestSender_ReusesAResolvedNameForAFewSeconds(t *testing.T) {
	t.Parallel()
	s, dns, clk, _ := setupResolve(t, true, map[string][]netip.Addr{"hook.test.": addrs("127.0.0.1")})
	resolve := func() {
		t.Helper()
		if _, err := s.resolve(context.Background(), "http://hook.test/"); err != nil {
			t.Fatal(err)
		}
	}
	resolve()
	first := dns.questions()
	for range 10 {
		resolve()
	}
	clk.Advance(resolveCacheFor - time.Millisecond)
	resolve()
	if got := dns.questions(); got != first {
		t.Fatalf("%d questions for 12 attempts within %v, want %d", got, resolveCacheFor, first)
	}
	clk.Advance(time.Millisecond)
	resolve()
	if got := dns.questions(); got != 2*first {
		t.Fatalf("%d questions after %v, want %d", got, resolveCacheFor, 2*first)
	}
}
