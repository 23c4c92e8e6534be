package notifier

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// fakeDNS is a tiny authoritative DNS server on 127.0.0.1 answering A and AAAA queries
// from a table, so hostname cases need no real DNS. Names not in the table get
// NXDOMAIN, names under "servfail.test." SERVFAIL. Answers may be changed while it
// runs, to play a rebinding attack; it counts the questions it was asked.
type fakeDNS struct {
	mu      sync.Mutex
	records map[string][]netip.Addr // fully qualified, lower case: "rebind.test."
	asked   int
	addr    string
}

func startFakeDNS(t testing.TB, records map[string][]netip.Addr) *fakeDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDNS{records: records, addr: pc.LocalAddr().String()}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp, err := d.answer(buf[:n]); err == nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	return d
}

func (d *fakeDNS) set(name string, addrs ...netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.records[name] = addrs
}

func (d *fakeDNS) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(q.Name.String())
	d.mu.Lock()
	addrs, known := d.records[name]
	d.asked++
	d.mu.Unlock()

	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
	switch {
	case strings.HasSuffix(name, "servfail.test."):
		rh.RCode = dnsmessage.RCodeServerFailure
	case !known:
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	for _, a := range addrs {
		rrh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 0}
		switch {
		case a.Is4() && q.Type == dnsmessage.TypeA:
			err = b.AResource(rrh, dnsmessage.AResource{A: a.As4()})
		case a.Is6() && q.Type == dnsmessage.TypeAAAA:
			err = b.AAAAResource(rrh, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
		if err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// questions returns how many questions the server was asked.
func (d *fakeDNS) questions() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.asked
}

// resolver returns a Go resolver that sends every query to the fake server.
func (d *fakeDNS) resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var nd net.Dialer
			return nd.DialContext(ctx, "udp", d.addr)
		},
	}
}

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

func TestCheckIP(t *testing.T) {
	t.Parallel()
	forbidden := []string{
		"127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"100.64.0.1", "100.127.255.254", "169.254.169.254", "0.0.0.0", "0.1.2.3", "255.255.255.255",
		"224.0.0.1", "239.255.255.250", "240.0.0.1", "192.0.0.8", "192.0.2.1", "198.18.0.1",
		"198.19.255.255", "198.51.100.7", "203.0.113.9", "192.88.99.1",
		"::", "::1", "fc00::1", "fd12:3456:789a::1", "fe80::1", "fe80::1%eth0", "febf::1", "fec0::1", "ff02::1",
		"::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
		"::ffff:0:10.0.0.1", "64:ff9b::10.0.0.1", "64:ff9b::7f00:1", "64:ff9b:1::808:808",
		"2002:7f00:1::", "2002:a9fe:a9fe::1", "2002:c0a8:0101::", "2001:db8::1", "2001::1", "2001:2::1",
		"3fff::1", "100::1", "5f00::1",
	}
	for _, s := range forbidden {
		t.Run("forbidden "+s, func(t *testing.T) {
			t.Parallel()
			err := CheckIP(netip.MustParseAddr(s))
			if !errors.Is(err, ErrForbiddenDestination) {
				t.Fatalf("CheckIP(%s) = %v, want ErrForbiddenDestination", s, err)
			}
		})
	}
	allowed := []string{
		"8.8.8.8", "93.184.215.14", "1.1.1.1", "100.63.255.255", "100.128.0.1", "172.15.255.255",
		"172.32.0.1", "192.167.255.255", "198.17.255.255", "198.20.0.1", "223.255.255.255",
		"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "2606:4700:4700::1111",
		"2001:4860:4860::8888", "2a00:1450:4001:82b::200e",
	}
	for _, s := range allowed {
		t.Run("allowed "+s, func(t *testing.T) {
			t.Parallel()
			if err := CheckIP(netip.MustParseAddr(s)); err != nil {
				t.Fatalf("CheckIP(%s) = %v, want nil", s, err)
			}
		})
	}
	t.Run("zero Addr", func(t *testing.T) {
		t.Parallel()
		if err := CheckIP(netip.Addr{}); !errors.Is(err, ErrForbiddenDestination) {
			t.Fatalf("CheckIP(zero) = %v", err)
		}
	})
}

// TestCheckIP_CloudHostServices names the metadata and host-service addresses of
// cloud providers, every one of which a delivery must never reach. Azure's WireServer
// is a public address, which the special-purpose ranges alone let through.
func TestCheckIP_CloudHostServices(t *testing.T) {
	t.Parallel()
	tests := []struct{ provider, addr string }{
		{"AWS instance metadata (IMDS)", "169.254.169.254"},
		{"AWS IMDS over IPv6 (Nitro)", "fd00:ec2::254"},
		{"AWS ECS task metadata", "169.254.170.2"},
		{"AWS Route 53 Resolver", "169.254.169.253"},
		{"AWS Route 53 Resolver over IPv6", "fd00:ec2::253"},
		{"AWS Time Sync", "169.254.169.123"},
		{"GCP metadata server (metadata.google.internal)", "169.254.169.254"},
		{"Azure instance metadata (IMDS)", "169.254.169.254"},
		{"Azure WireServer (DHCP, DNS, VM agent)", "168.63.129.16"},
		{"Azure WireServer, IPv4-mapped", "::ffff:168.63.129.16"},
		{"Azure WireServer, NAT64", "64:ff9b::a83f:8110"},
		{"Oracle Cloud instance metadata", "169.254.169.254"},
		{"Oracle Cloud@Customer metadata", "192.0.0.192"},
		{"Alibaba Cloud ECS metadata", "100.100.100.200"},
		{"Alibaba Cloud DNS", "100.100.2.136"},
		{"DigitalOcean droplet metadata", "169.254.169.254"},
		{"Hetzner Cloud metadata", "169.254.169.254"},
		{"OpenStack metadata", "169.254.169.254"},
		{"Tencent Cloud metadata", "169.254.0.23"},
		{"Scaleway metadata", "169.254.42.42"},
	}
	for _, tt := range tests {
		t.Run(tt.provider, func(t *testing.T) {
			t.Parallel()
			if err := CheckIP(netip.MustParseAddr(tt.addr)); !errors.Is(err, ErrForbiddenDestination) {
				t.Fatalf("CheckIP(%s) = %v, want ErrForbiddenDestination", tt.addr, err)
			}
		})
	}
	// Only the WireServer itself: Microsoft's addresses around it are public.
	for _, s := range []string{"168.63.129.15", "168.63.129.17", "168.63.128.16"} {
		if err := CheckIP(netip.MustParseAddr(s)); err != nil {
			t.Errorf("CheckIP(%s) = %v, want nil", s, err)
		}
	}
}

func TestCheckIP_ErrorNamesTheRange(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"169.254.169.254":    "link-local",
		"10.1.2.3":           "RFC 1918",
		"::ffff:127.0.0.1":   "IPv4-mapped",
		"64:ff9b::a00:1":     "embedded in 64:ff9b::a00:1",
		"100.100.100.100":    "carrier-grade NAT",
		"255.255.255.255":    "broadcast",
		"fd00::1":            "unique local",
		"168.63.129.16":      "Azure",
		"2002:0a00:0001:1::": "private",
	}
	for ip, want := range tests {
		if err := CheckIP(netip.MustParseAddr(ip)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckIP(%s) = %v, want it to mention %q", ip, err, want)
		}
	}
}

func TestCheckCallbackURL(t *testing.T) {
	t.Parallel()
	dns := startFakeDNS(t, map[string][]netip.Addr{
		"public.test.":   addrs("93.184.215.14"),
		"public6.test.":  addrs("2606:4700:4700::1111"),
		"dual.test.":     addrs("8.8.8.8", "2001:4860:4860::8888"),
		"rebind.test.":   addrs("10.0.0.1"),
		"mixed.test.":    addrs("8.8.8.8", "127.0.0.1"),
		"mixed6.test.":   addrs("8.8.8.8", "fd00::1"),
		"metadata.test.": addrs("169.254.169.254"),
		"mapped.test.":   addrs("::ffff:192.168.0.1"),
		"empty.test.":    nil,
	})
	r := dns.resolver()

	tests := []struct {
		url  string
		want error // nil, ErrForbiddenDestination, ErrInvalidCallbackURL or ErrTemporaryResolution
	}{
		// Literal loopback and private addresses, in every spelling.
		{"http://127.0.0.1/hook", ErrForbiddenDestination},
		{"http://127.0.0.1:8080/hook", ErrForbiddenDestination},
		{"http://127.0.0.1./hook", ErrForbiddenDestination},
		{"http://127.1/", ErrForbiddenDestination},
		{"http://127.0.1/", ErrForbiddenDestination},
		{"http://2130706433/", ErrForbiddenDestination},
		{"http://0x7f000001/", ErrForbiddenDestination},
		{"http://0x7f.1/", ErrForbiddenDestination},
		{"http://0X7F.0.0.1/", ErrForbiddenDestination},
		{"http://017700000001/", ErrForbiddenDestination},
		{"http://0177.0.0.1/", ErrForbiddenDestination},
		{"http://0/", ErrForbiddenDestination},
		{"http://0.0.0.0/", ErrForbiddenDestination},
		{"http://10.0.0.1/", ErrForbiddenDestination},
		{"http://012.0.0.1/", ErrForbiddenDestination},
		{"http://0xa9fea9fe/latest/meta-data/", ErrForbiddenDestination},
		{"http://169.254.169.254/latest/meta-data/", ErrForbiddenDestination},
		{"http://100.64.0.1/", ErrForbiddenDestination},
		{"http://192.168.0.1/", ErrForbiddenDestination},
		{"http://172.16.5.4/", ErrForbiddenDestination},
		{"http://198.18.0.1/", ErrForbiddenDestination},
		{"http://240.0.0.1/", ErrForbiddenDestination},
		{"http://255.255.255.255/", ErrForbiddenDestination},
		{"http://224.0.0.1/", ErrForbiddenDestination},
		{"http://[::1]/", ErrForbiddenDestination},
		{"http://[::1]:8443/", ErrForbiddenDestination},
		{"http://[::]/", ErrForbiddenDestination},
		{"http://[0:0:0:0:0:0:0:1]/", ErrForbiddenDestination},
		{"http://[::ffff:127.0.0.1]/", ErrForbiddenDestination},
		{"http://[::ffff:7f00:1]/", ErrForbiddenDestination},
		{"http://[::FFFF:A9FE:A9FE]/", ErrForbiddenDestination},
		{"http://[::127.0.0.1]/", ErrForbiddenDestination},
		{"http://[fc00::1]/", ErrForbiddenDestination},
		{"http://[fd00:ec2::254]/", ErrForbiddenDestination},
		{"http://[fe80::1%25eth0]/", ErrForbiddenDestination},
		{"http://[FE80::1]/", ErrForbiddenDestination},
		{"http://[ff02::1]/", ErrForbiddenDestination},
		{"http://[64:ff9b::127.0.0.1]/", ErrForbiddenDestination},
		{"http://[64:ff9b::a00:1]/", ErrForbiddenDestination},
		{"http://[2002:7f00:1::1]/", ErrForbiddenDestination},
		{"http://[2002:c0a8:101::]/", ErrForbiddenDestination},
		// Names.
		{"http://localhost/", ErrForbiddenDestination},
		{"http://localhost./", ErrForbiddenDestination},
		{"http://LOCALHOST:8080/", ErrForbiddenDestination},
		{"http://LocalHost/", ErrForbiddenDestination},
		{"http://api.localhost/", ErrForbiddenDestination},
		{"http://metadata.google.internal/computeMetadata/v1/", ErrForbiddenDestination},
		{"http://Metadata.Google.Internal./", ErrForbiddenDestination},
		{"http://internal/", ErrForbiddenDestination},
		{"http://168.63.129.16/machine?comp=goalstate", ErrForbiddenDestination},
		{"http://rebind.test/", ErrForbiddenDestination},
		{"http://REBIND.test./hook", ErrForbiddenDestination},
		{"http://mixed.test/", ErrForbiddenDestination},
		{"http://mixed6.test/", ErrForbiddenDestination},
		{"http://metadata.test/", ErrForbiddenDestination},
		{"http://mapped.test/", ErrForbiddenDestination},
		// Userinfo and fragment tricks: the host is what follows the @.
		{"https://good.com@127.0.0.1/", ErrForbiddenDestination},
		{"https://public.test@127.0.0.1:443/", ErrForbiddenDestination},
		{"https://user:pass@rebind.test/", ErrForbiddenDestination},
		{"http://127.0.0.1#@public.test/", ErrForbiddenDestination},
		{"http://127.0.0.1?@public.test/", ErrForbiddenDestination},
		{"HTTP://127.0.0.1/", ErrForbiddenDestination},
		// Unusable URLs.
		{"", ErrInvalidCallbackURL},
		{"public.test/hook", ErrInvalidCallbackURL},
		{"//public.test/hook", ErrInvalidCallbackURL},
		{"ftp://public.test/", ErrInvalidCallbackURL},
		{"file:///etc/passwd", ErrInvalidCallbackURL},
		{"gopher://public.test:70/", ErrInvalidCallbackURL},
		{"javascript:alert(1)", ErrInvalidCallbackURL},
		{"http:public.test", ErrInvalidCallbackURL},
		{"http:///hook", ErrInvalidCallbackURL},
		{"http://:80/", ErrInvalidCallbackURL},
		{"http://public.test:0/", ErrInvalidCallbackURL},
		{"http://public.test:65536/", ErrInvalidCallbackURL},
		{"http://public.test:/", ErrInvalidCallbackURL},
		{"http://public.test:http/", ErrInvalidCallbackURL},
		{"http://pub lic.test/", ErrInvalidCallbackURL},
		{"http://good.com\\@127.0.0.1/", ErrInvalidCallbackURL},
		{"http://ex..test/", ErrInvalidCallbackURL},
		{"http://bücher.test/", ErrInvalidCallbackURL},
		{"http://" + strings.Repeat("a", 64) + ".test/", ErrInvalidCallbackURL},
		{"http://example.123/", ErrInvalidCallbackURL},
		{"http://1.2.3.4.5/", ErrInvalidCallbackURL},
		{"http://256.1.1.1/", ErrInvalidCallbackURL},
		{"http://08.8.8.8/", ErrInvalidCallbackURL},
		{"http://0x1g.1/", ErrInvalidCallbackURL},
		{"http://4294967296/", ErrInvalidCallbackURL},
		{"http://134744072/", ErrInvalidCallbackURL},       // 8.8.8.8, but not written as such
		{"http://010.010.010.010/", ErrInvalidCallbackURL}, // 8.8.8.8 in octal
		{"http://[2606:4700:4700::1111%25eth0]/", ErrInvalidCallbackURL},
		{"http://[::1/", ErrInvalidCallbackURL},
		// Names that do not resolve: no such name, or no answer for now.
		{"https://nxdomain.test/", ErrInvalidCallbackURL},
		{"https://empty.test/", ErrInvalidCallbackURL},
		{"https://servfail.test/", ErrTemporaryResolution},
		{"https://a.servfail.test:8443/", ErrTemporaryResolution},
		// Public destinations.
		{"https://93.184.215.14/hook", nil},
		{"http://8.8.8.8:8080/x?y=z", nil},
		{"https://[2606:4700:4700::1111]/hook", nil},
		{"https://[::ffff:8.8.8.8]/", nil},
		{"https://[64:ff9b::8.8.8.8]/", nil},
		{"https://public.test/hooks/trackhook", nil},
		{"https://Public.Test./hooks", nil},
		{"https://public6.test/", nil},
		{"https://dual.test:8443/", nil},
		{"https://user:pass@public.test/", nil},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			err := CheckCallbackURL(context.Background(), r, tt.url)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("CheckCallbackURL() = %v, want nil", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("CheckCallbackURL() = %v, want %v", err, tt.want)
			}
			for _, other := range []error{ErrForbiddenDestination, ErrInvalidCallbackURL, ErrTemporaryResolution} {
				if other != tt.want && errors.Is(err, other) {
					t.Fatalf("CheckCallbackURL() = %v, which is also %v", err, other)
				}
			}
		})
	}
}

func TestCheckCallbackURL_ErrorDoesNotRepeatCredentials(t *testing.T) {
	t.Parallel()
	err := CheckCallbackURL(context.Background(), nil, "http://user:s3cret@[::1/")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("CheckCallbackURL() = %v; want an error without the password", err)
	}
}

// TestCheckCallbackURL_HonoursContext: a context that has ended is noticed before
// any question is asked, so the answer does not depend on how fast the resolver is.
func TestCheckCallbackURL_HonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dns := startFakeDNS(t, map[string][]netip.Addr{"public.test.": addrs("8.8.8.8")})
	for range 20 {
		err := CheckCallbackURL(ctx, dns.resolver(), "https://public.test/")
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTemporaryResolution) {
			t.Fatalf("CheckCallbackURL with a cancelled context = %v, want context.Canceled", err)
		}
	}
	if n := dns.questions(); n != 0 {
		t.Fatalf("the resolver was asked %d questions with a cancelled context", n)
	}
}

// TestCheckCallbackURL_MessagesSayOnlyNotAllowedOrNotResolved: a refusal names the
// host as written and the flag for development servers, never what the host resolved
// to; a resolution failure names neither the resolver nor its address, though its
// error stays reachable for the server's logs.
func TestCheckCallbackURL_MessagesSayOnlyNotAllowedOrNotResolved(t *testing.T) {
	t.Parallel()
	dns := startFakeDNS(t, map[string][]netip.Addr{
		"db.corp.test.":    addrs("10.20.30.40"),
		"mixed.corp.test.": addrs("93.184.215.14", "fd12:3456::7"),
	})
	_, dnsPort, err := net.SplitHostPort(dns.addr)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"10.20.30.40", "10.20.30", "fd12", "93.184", "127.0.0.1", ":" + dnsPort, "lookup", "RFC 1918", "unique local", "is private", "is loopback", "resolves to"}
	tests := []struct {
		url, host string
		want      error
	}{
		{"https://db.corp.test/hooks", "db.corp.test", ErrForbiddenDestination},
		{"https://mixed.corp.test/hooks", "mixed.corp.test", ErrForbiddenDestination},
		{"https://127.0.0.1:8443/hooks", "127.0.0.1", ErrForbiddenDestination},
		{"https://0x7f.1/hooks", "0x7f.1", ErrForbiddenDestination},
		{"https://x.servfail.test/hooks", "x.servfail.test", ErrTemporaryResolution},
		{"https://gone.corp.test/hooks", "gone.corp.test", ErrInvalidCallbackURL},
	}
	for _, tt := range tests {
		err := CheckCallbackURL(context.Background(), dns.resolver(), tt.url)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.url, err, tt.want)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.host) {
			t.Errorf("%s: %q does not name the host %s", tt.url, msg, tt.host)
		}
		for _, s := range secrets {
			if s != tt.host && strings.Contains(msg, s) {
				t.Errorf("%s: %q gives away %q", tt.url, msg, s)
			}
		}
		if tt.want == ErrForbiddenDestination && !strings.Contains(msg, "--allow-private-callbacks") {
			t.Errorf("%s: %q does not name --allow-private-callbacks", tt.url, msg)
		}
		var dnsErr *net.DNSError
		if tt.want == ErrTemporaryResolution && !errors.As(err, &dnsErr) {
			t.Errorf("%s: %v does not keep the resolver's error for the logs", tt.url, err)
		}
	}
}

func TestParseNumericHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		host    string
		want    string // "" when not numeric or invalid
		numeric bool
	}{
		{"2130706433", "127.0.0.1", true},
		{"0x7f.1", "127.0.0.1", true},
		{"017700000001", "127.0.0.1", true},
		{"127.1", "127.0.0.1", true},
		{"127.0.1", "127.0.0.1", true},
		{"1.2.3.4", "1.2.3.4", true},
		{"0x", "0.0.0.0", true},
		{"0xffffffff", "255.255.255.255", true},
		{"192.168.0x1.01", "192.168.1.1", true},
		{"1.16777215", "1.255.255.255", true},
		{"1.16777216", "", true},
		{"256.0.0.1", "", true},
		{"09", "", true},
		{"1.2.3.4.5", "", true},
		{"a.1", "", true},
		{"example.com", "", false},
		{"1.example", "", false},
		{"0xg", "", false},
		{"deadbeef", "", false},
	}
	for _, tt := range tests {
		ip, numeric, err := parseNumericHost(tt.host)
		if numeric != tt.numeric {
			t.Errorf("parseNumericHost(%q) numeric = %v, want %v", tt.host, numeric, tt.numeric)
			continue
		}
		switch {
		case tt.want == "" && numeric && err == nil:
			t.Errorf("parseNumericHost(%q) = %v, want an error", tt.host, ip)
		case tt.want != "" && (err != nil || ip.String() != tt.want):
			t.Errorf("parseNumericHost(%q) = %v, %v; want %s", tt.host, ip, err, tt.want)
		}
	}
}

func FuzzCheckCallbackURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1/", "http://0x7f.1/", "https://[::ffff:7f00:1]:8/x", "http://a@b@c/",
		"http://1.2.3.4.5/", "http://[fe80::1%25en0]/", "https://93.184.215.14/", "http://0x.0x.0/", "http://%30/"} {
		f.Add(s)
	}
	// An empty resolver table: names get NXDOMAIN, so only literals can pass.
	dns := startFakeDNS(f, map[string][]netip.Addr{})
	f.Fuzz(func(t *testing.T, raw string) {
		err := CheckCallbackURL(context.Background(), dns.resolver(), raw)
		if err != nil {
			return
		}
		host, _, herr := splitCallbackURL(raw)
		if herr != nil {
			t.Fatalf("accepted %q whose host does not parse: %v", raw, herr)
		}
		ip, perr := netip.ParseAddr(host)
		if perr != nil {
			t.Fatalf("accepted %q whose host %q is not an IP literal, with no DNS records", raw, host)
		}
		if CheckIP(ip) != nil {
			t.Fatalf("accepted %q with forbidden address %s", raw, ip)
		}
	})
}

func TestGuardedDialer_RefusesLoopbackAtDialTime(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	get := func(d *net.Dialer, url string) (*http.Response, error) {
		tr := &http.Transport{DialContext: d.DialContext, Proxy: nil}
		t.Cleanup(tr.CloseIdleConnections)
		c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		return c.Get(url)
	}

	t.Run("guard on", func(t *testing.T) {
		t.Parallel()
		resp, err := get(NewGuardedDialer(false, 2*time.Second), srv.URL)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("GET %s went through the guard with status %d", srv.URL, resp.StatusCode)
		}
		if !errors.Is(err, ErrForbiddenDestination) {
			t.Fatalf("GET %s = %v, want ErrForbiddenDestination", srv.URL, err)
		}
	})
	t.Run("allowPrivate", func(t *testing.T) {
		t.Parallel()
		resp, err := get(NewGuardedDialer(true, 2*time.Second), srv.URL)
		if err != nil {
			t.Fatalf("GET %s with allowPrivate = %v", srv.URL, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status %d, want 204", resp.StatusCode)
		}
	})
}

// A name that passes CheckCallbackURL and then resolves to loopback when the delivery
// dials (DNS rebinding) is still refused, because the dialer checks the address it
// connects to.
func TestGuardedDialer_RefusesRebindingAfterTheCheck(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the request reached the loopback server")
	}))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}

	dns := startFakeDNS(t, map[string][]netip.Addr{"rebind.test.": addrs("93.184.215.14")})
	url := "http://rebind.test:" + port + "/hook"
	if err := CheckCallbackURL(context.Background(), dns.resolver(), url); err != nil {
		t.Fatalf("CheckCallbackURL while the name is public = %v", err)
	}
	dns.set("rebind.test.", addrs("127.0.0.1")...)

	d := NewGuardedDialer(false, 2*time.Second)
	d.Resolver = dns.resolver()
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Post(url, "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("POST %s after rebinding went through with status %d", url, resp.StatusCode)
	}
	if !errors.Is(err, ErrForbiddenDestination) {
		t.Fatalf("POST %s = %v, want ErrForbiddenDestination", url, err)
	}
}
