package notifier

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// A destination is where a delivery's connection goes: one address and port. Breakers
// and the per-host places are keyed by it, not by how a callback URL spells its host,
// because one receiver has many spellings: "1.1.1.1:0443" and "1.1.1.1:443",
// "[::ffff:1.1.1.1]" and "1.1.1.1", "0x7f.1" and "127.0.0.1", upper and lower case, a
// trailing dot, and any number of DNS names for one address. Keyed by the text, each
// spelling had a breaker and a cap of its own, so a receiver that hangs could hold
// every delivery worker through a few aliases.

// DestinationKey returns the canonical host:port of a callback URL, without resolving
// it: the port as a number (the scheme's default when none is written), an IP
// address in its canonical form (netip; IPv4-mapped IPv6 and the numeric shorthands
// inet_aton accepts as plain IPv4), and a name in lower case without a trailing dot.
// "https://Hooks.Example.com./x" gives "hooks.example.com:443", "http://[::FFFF:7f00:1]:080/"
// gives "127.0.0.1:80". The notifier keys breakers and per-host places by the address
// a name resolves to (see Sender), so that many names of one address share them.
func DestinationKey(rawURL string) (string, error) {
	host, port, err := splitCallbackURL(rawURL)
	if err != nil {
		return "", err
	}
	ip, literal, err := literalAddr(host)
	switch {
	case err != nil:
		return "", err
	case literal:
		return netip.AddrPortFrom(ip, port).String(), nil
	}
	return net.JoinHostPort(strings.TrimSuffix(host, "."), strconv.Itoa(int(port))), nil
}

// splitCallbackURL parses raw, an absolute http or https URL, and returns its host
// (lower case, without brackets) and its port as a number, the scheme's default when
// none is written. Errors wrap ErrInvalidCallbackURL and never repeat the URL, which
// may hold credentials.
func splitCallbackURL(raw string) (host string, port uint16, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the url.Error repeats the whole URL
		}
		return "", 0, fmt.Errorf("%w: %v", ErrInvalidCallbackURL, err)
	}
	switch u.Scheme {
	case "http":
		port = 80
	case "https":
		port = 443
	default:
		return "", 0, fmt.Errorf("%w: the scheme must be http or https, not %q", ErrInvalidCallbackURL, u.Scheme)
	}
	host = strings.ToLower(u.Hostname())
	if u.Opaque != "" || host == "" {
		return "", 0, fmt.Errorf("%w: no host; write it as https://host/path", ErrInvalidCallbackURL)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return "", 0, fmt.Errorf("%w: port %q is not 1 to 65535", ErrInvalidCallbackURL, p)
		}
		port = uint16(n)
	} else if strings.HasSuffix(u.Host, ":") {
		return "", 0, fmt.Errorf("%w: empty port", ErrInvalidCallbackURL)
	}
	return host, port, nil
}

// literalAddr reads host as an IP address when it is written as one: an IPv6 or
// dotted IPv4 literal, or a host whose last label is a number, which URL parsers in
// browsers and inet_aton read as IPv4 (see parseNumericHost). IPv4-mapped IPv6 is
// returned as plain IPv4. literal reports whether host is meant as an address; err
// (wrapping ErrInvalidCallbackURL) that it is meant as one but is not valid.
func literalAddr(host string) (ip netip.Addr, literal bool, err error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap(), true, nil
	}
	ip, numeric, err := parseNumericHost(strings.TrimSuffix(host, "."))
	if err != nil {
		return netip.Addr{}, true, fmt.Errorf("%w: host %q looks like an IPv4 address but is not one", ErrInvalidCallbackURL, host)
	}
	return ip, numeric, nil
}
