package notifier

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Deliveries POST to URLs that API users choose, so without a guard anyone with an API
// key could make trackhook send requests into the network it runs in: the cloud
// metadata service, an admin interface on localhost, a database on the private
// network. The guard works at three points:
//
//   - CheckCallbackURL when a callback URL is accepted, to tell the user early;
//   - the Sender before every attempt: it resolves the host itself, refuses a name
//     with any forbidden address, and connects to the addresses it checked and no
//     others (see resolve.go), so a name that resolved to a public address when it
//     was accepted and to a private one later (DNS rebinding) is refused;
//   - the dialer's Control function on every connection, which sees the address
//     actually dialled.

// ErrForbiddenDestination is returned (wrapped) for a callback that leads to a
// loopback, private, link-local, cloud host-service or otherwise non-public address.
// CheckCallbackURL's message names only the host as written; CheckIP's, which the
// delivery log shows when the dialer refuses a connection, names the address and its
// range.
var ErrForbiddenDestination = errors.New("forbidden callback destination")

// ErrTemporaryResolution is returned (wrapped) by CheckCallbackURL when the callback's
// host name could not be resolved for a reason that may pass: the resolver failed,
// timed out or could not be reached. The callback may be fine; ask again later. A name
// that does not exist is ErrInvalidCallbackURL instead.
var ErrTemporaryResolution = errors.New("callback host could not be resolved for now")

// ErrInvalidCallbackURL is returned (wrapped, with the reason) for a callback URL that
// is not an absolute http or https URL with a usable host, including a host name that
// does not exist.
var ErrInvalidCallbackURL = errors.New("invalid callback URL")

// forbiddenRange is an address range deliveries must not reach, with the name given in
// error messages.
type forbiddenRange struct {
	prefix netip.Prefix
	why    string
}

// forbiddenRanges is a read-only table, built once: IPv4 and IPv6 special-purpose
// ranges (IANA registries, RFC 6890 and successors) that are not public unicast, and
// the cloud providers' host-service addresses that are not in one of them.
// IPv4-mapped IPv6 addresses are unmapped before the lookup, and the IPv6 ranges that
// embed an IPv4 address (NAT64, 6to4) are checked by their embedded address in
// CheckIP, so they are not listed here.
//
// Cloud metadata and host services: AWS (169.254.169.254, 169.254.170.2 for ECS
// tasks, fd00:ec2::254), GCP (169.254.169.254, metadata.google.internal), Azure IMDS
// (169.254.169.254), DigitalOcean, Oracle, Hetzner, OpenStack (169.254.169.254),
// Tencent (169.254.0.23) and Scaleway (169.254.42.42) are link-local or unique local;
// Alibaba (100.100.100.200) is in the shared address space and Oracle's 192.0.0.192
// in the IETF assignments. Azure's WireServer, 168.63.129.16, is a public address of
// Microsoft's that every Azure VM reaches as its host (DHCP, DNS, VM agent): it is
// listed on its own.
var forbiddenRanges = []forbiddenRange{
	{netip.MustParsePrefix("168.63.129.16/32"), "Azure's host services (WireServer)"},
	{netip.MustParsePrefix("0.0.0.0/8"), `"this network" (0.0.0.0/8)`},
	{netip.MustParsePrefix("10.0.0.0/8"), "private (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (carrier-grade NAT, RFC 6598)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (includes cloud metadata services)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private (RFC 1918)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments (192.0.0.0/24)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation (TEST-NET-1)"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast (deprecated)"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private (RFC 1918)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking (RFC 2544)"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation (TEST-NET-2)"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation (TEST-NET-3)"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved (240.0.0.0/4)"},

	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible IPv6 (deprecated)"},
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "IPv4-translated IPv6 (SIIT)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64 (RFC 8215)"},
	{netip.MustParsePrefix("100::/64"), "discard-only (RFC 6666)"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation (2001:db8::/32)"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignments (Teredo, benchmarking, ORCHID)"},
	{netip.MustParsePrefix("3fff::/20"), "documentation (3fff::/20)"},
	{netip.MustParsePrefix("5f00::/16"), "segment routing SIDs (RFC 9602)"},
	{netip.MustParsePrefix("fc00::/7"), "unique local (IPv6 private, fc00::/7)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local (deprecated)"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// CheckIP returns nil if ip is a public unicast address a delivery may go to, and
// otherwise an error wrapping ErrForbiddenDestination. It refuses loopback, private
// (RFC 1918, IPv6 unique local), link-local, carrier-grade NAT, multicast,
// unspecified, broadcast, documentation, benchmarking and reserved ranges, the IPv4
// ones also in their IPv4-mapped, IPv4-compatible and SIIT IPv6 forms, and NAT64
// (64:ff9b::/96) or 6to4 (2002::/16) addresses whose embedded IPv4 address is
// refused. A zone (fe80::1%eth0) is ignored for the check.
func CheckIP(ip netip.Addr) error {
	if !ip.IsValid() {
		return fmt.Errorf("%w: no address", ErrForbiddenDestination)
	}
	ip = ip.WithZone("")
	if ip.Is4In6() {
		if err := checkUnmapped(ip.Unmap()); err != nil {
			return fmt.Errorf("%w (IPv4-mapped as %s)", err, ip)
		}
		return nil
	}
	if ip.Is6() {
		b := ip.As16()
		var embedded netip.Addr
		switch {
		case nat64Prefix.Contains(ip):
			embedded = netip.AddrFrom4([4]byte(b[12:16]))
		case sixToFour.Contains(ip):
			embedded = netip.AddrFrom4([4]byte(b[2:6]))
		}
		if embedded.IsValid() {
			if err := checkUnmapped(embedded); err != nil {
				return fmt.Errorf("%w (embedded in %s)", err, ip)
			}
			return nil
		}
	}
	return checkUnmapped(ip)
}

// checkUnmapped looks a plain IPv4 or IPv6 address up in the table.
func checkUnmapped(ip netip.Addr) error {
	for _, r := range forbiddenRanges {
		if r.prefix.Contains(ip) {
			return fmt.Errorf("%w: %s is %s", ErrForbiddenDestination, ip, r.why)
		}
	}
	// A backstop for anything the table misses: only global unicast may pass.
	if !ip.IsGlobalUnicast() {
		return fmt.Errorf("%w: %s is not a global unicast address", ErrForbiddenDestination, ip)
	}
	return nil
}

// CheckCallbackURL returns nil if raw is a callback URL deliveries may be sent to: an
// absolute http or https URL whose host is a public IP address, or a name that
// resolver (nil means net.DefaultResolver) resolves only to public addresses. It
// returns an error wrapping
//
//   - ErrForbiddenDestination if the host is or resolves to any refused address (see
//     CheckIP), or is "localhost" or a name under it (RFC 6761) or under the
//     private-use top-level domain "internal" (GCP's metadata.google.internal, for
//     one), which are refused without resolving them;
//   - ErrInvalidCallbackURL if the URL is unusable, or its host name does not exist;
//   - ErrTemporaryResolution if the name could not be resolved for now;
//   - ctx's error if ctx ended first: ctx is checked before the name is looked up.
//
// The messages name the host as written and nothing else about it: not the addresses
// it resolves to nor the resolver asked, which would tell whoever creates callbacks
// about the network trackhook runs in. A refused destination's message names the
// --allow-private-callbacks flag that lets a development server reach it.
//
// Hosts are read as a browser reads them: a host whose last label is a number
// ("2130706433", "0x7f.1", "017700000001", "127.1") is an IPv4 address in one of the
// shorthand forms inet_aton accepts. Some system resolvers turn such names into
// addresses while Go's URL and IP parsers do not, so the guard parses them itself: one
// that denotes a refused address is ErrForbiddenDestination, and any other is
// ErrInvalidCallbackURL asking for the usual dotted-decimal form. An IP literal with
// a zone ("[fe80::1%25eth0]") is refused too.
//
// A URL that passes can still lead somewhere forbidden later, when its DNS answer
// changes: the Sender checks the addresses again before every attempt, dials only
// those, and its dialer checks each connection.
func CheckCallbackURL(ctx context.Context, resolver *net.Resolver, raw string) error {
	host, _, err := splitCallbackURL(raw)
	if err != nil {
		return err
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if CheckIP(ip) != nil {
			return notAllowed(host)
		}
		if ip.Zone() != "" {
			return fmt.Errorf("%w: an address with a zone (%s) cannot be a callback", ErrInvalidCallbackURL, ip)
		}
		return nil
	}
	name := strings.TrimSuffix(host, ".")
	if ip, numeric, err := parseNumericHost(name); numeric {
		if err != nil {
			return fmt.Errorf("%w: host %q looks like an IPv4 address but is not one", ErrInvalidCallbackURL, host)
		}
		if CheckIP(ip) != nil {
			return notAllowed(host)
		}
		return fmt.Errorf("%w: write the address %q as %s", ErrInvalidCallbackURL, host, ip)
	}
	if err := checkHostname(name); err != nil {
		return err
	}
	if privateName(name) {
		return notAllowed(host)
	}
	addrs, err := lookupHost(ctx, resolver, name)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if CheckIP(a) != nil {
			return notAllowed(host)
		}
	}
	return nil
}

// notAllowed is CheckCallbackURL's refusal of host.
func notAllowed(host string) error {
	return fmt.Errorf("%w: host %s is not allowed: callbacks must reach public internet addresses "+
		"(a development server started with --allow-private-callbacks also reaches loopback and private ones)",
		ErrForbiddenDestination, host)
}

// privateName reports whether name (lower case, without a trailing dot) is one that
// never leads to the internet: localhost (RFC 6761) or the private-use top-level
// domain "internal" (ICANN, 2024), and names under them.
func privateName(name string) bool {
	for _, tld := range []string{"localhost", "internal"} {
		if name == tld || strings.HasSuffix(name, "."+tld) {
			return true
		}
	}
	return false
}

// checkHostname accepts a DNS name of letters, digits, hyphens and underscores, in
// labels of 1 to 63 bytes, 253 bytes in all.
func checkHostname(name string) error {
	if name == "" || len(name) > 253 {
		return fmt.Errorf("%w: host name %q is empty or longer than 253 bytes", ErrInvalidCallbackURL, name)
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("%w: host name %q has an empty or over-long label", ErrInvalidCallbackURL, name)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%w: host name %q contains %q; write internationalised names in their xn-- form", ErrInvalidCallbackURL, name, c)
			}
		}
	}
	return nil
}

// parseNumericHost reads host the way inet_aton and URL parsers in browsers do when
// its last label is a number: one to four parts, each decimal, octal (leading 0) or
// hexadecimal (0x), the last part filling the remaining bytes. numeric reports whether
// host is such an attempt at all; err whether the attempt fails.
func parseNumericHost(host string) (ip netip.Addr, numeric bool, err error) {
	parts := strings.Split(host, ".")
	if !isNumberLabel(parts[len(parts)-1]) {
		return netip.Addr{}, false, nil
	}
	if len(parts) > 4 {
		return netip.Addr{}, true, errors.New("more than four parts")
	}
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		n, err := parseIPv4Part(p)
		if err != nil {
			return netip.Addr{}, true, err
		}
		nums[i] = n
	}
	var v uint64
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return netip.Addr{}, true, fmt.Errorf("part %d is over 255", i+1)
		}
		v = v<<8 | n
	}
	last := nums[len(nums)-1]
	restBits := 8 * uint(5-len(nums))
	if last >= 1<<restBits {
		return netip.Addr{}, true, errors.New("last part too large")
	}
	v = v<<restBits | last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true, nil
}

// isNumberLabel reports whether a label is all decimal digits or 0x followed by hex
// digits (possibly none), the test URL parsers use to decide a host is IPv4.
func isNumberLabel(s string) bool {
	if s == "" {
		return false
	}
	digits, base := s, "0123456789"
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		digits, base = s[2:], "0123456789abcdefABCDEF"
	}
	for i := 0; i < len(digits); i++ {
		if !strings.ContainsRune(base, rune(digits[i])) {
			return false
		}
	}
	return true
}

func parseIPv4Part(p string) (uint64, error) {
	base, digits := 10, p
	switch {
	case len(p) >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'):
		base, digits = 16, p[2:]
		if digits == "" {
			return 0, nil // "0x" alone is zero, as in browsers
		}
	case len(p) > 1 && p[0] == '0':
		base, digits = 8, p[1:]
	}
	if digits == "" {
		return 0, errors.New("empty part")
	}
	n, err := strconv.ParseUint(digits, base, 32)
	if err != nil {
		return 0, fmt.Errorf("part %q: %w", p, err)
	}
	return n, nil
}

// NewGuardedDialer returns a dialer for delivery connections. Unless allowPrivate is
// set, its Control function runs CheckIP on the address of every connection just
// before it is made, after DNS resolution, so no name can lead a delivery to a
// forbidden address however its DNS answers change. allowPrivate turns the guard off,
// for receivers on a private network and for tests against 127.0.0.1.
//
// The guard only sees what this dialer dials: the HTTP transport using it must not use
// a proxy (http.Transport.Proxy nil), or the check would apply to the proxy's address.
func NewGuardedDialer(allowPrivate bool, timeout time.Duration) *net.Dialer {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.ControlContext = guardConnection
	}
	return d
}

// guardConnection is a net.Dialer ControlContext that refuses forbidden addresses.
func guardConnection(_ context.Context, network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot read the %s address %q", ErrForbiddenDestination, network, address)
	}
	return CheckIP(ap.Addr())
}
