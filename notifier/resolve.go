package notifier

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Before every attempt the Sender resolves the callback's host itself: the notifier
// keys the destination's breaker and per-host places by the address found, and the
// connection is then made to that address and no other. Leaving the lookup to the
// dialer would let a name's DNS answer change between the check and the dial
// (rebinding), and would key one receiver under each of its names.

// resolveCacheFor is how long a name's addresses are reused: Go's resolver keeps
// nothing, and without it every attempt would ask DNS again, where a dialer with
// kept-alive connections asked only for new connections.
const resolveCacheFor = 5 * time.Second

// destination is where one attempt goes: the addresses its host resolved to, in the
// order to try them, with the URL's port.
type destination struct {
	addrs []netip.AddrPort
}

// key names the destination for the breakers and the per-host places: its first
// address, the one connected to unless it fails.
func (d destination) key() string { return d.addrs[0].String() }

// resolve returns where an attempt to rawURL goes now. A literal address is read in
// any spelling (see literalAddr); a name is looked up, or taken from the cache. Unless
// the Sender allows private destinations, every address must pass CheckIP. Errors
// are what the attempt's Result.Err says: ErrInvalidCallbackURL for an unusable URL,
// otherwise wrapping ErrNoResponse (nothing was sent) and the reason.
func (s *Sender) resolve(ctx context.Context, rawURL string) (destination, error) {
	host, port, err := splitCallbackURL(rawURL)
	if err != nil {
		return destination{}, err
	}
	ip, literal, err := literalAddr(host)
	if err != nil {
		return destination{}, err
	}
	addrs := []netip.Addr{ip}
	if !literal {
		name := strings.TrimSuffix(host, ".")
		if addrs, err = s.lookup(ctx, name); err != nil {
			return destination{}, fmt.Errorf("%w: %w", ErrNoResponse, err)
		}
		if !s.allowPrivate && !allPublic(addrs) {
			// Not which address: the name's DNS answer is not the account's to read.
			return destination{}, fmt.Errorf("%w: %w: host %s resolves to an address that is not public", ErrNoResponse, ErrForbiddenDestination, name)
		}
	} else if !s.allowPrivate {
		if err := CheckIP(ip); err != nil {
			return destination{}, fmt.Errorf("%w: %w", ErrNoResponse, err)
		}
	}
	d := destination{addrs: make([]netip.AddrPort, len(addrs))}
	for i, a := range addrs {
		d.addrs[i] = netip.AddrPortFrom(a.Unmap(), port)
	}
	return d, nil
}

func allPublic(addrs []netip.Addr) bool {
	for _, a := range addrs {
		if CheckIP(a) != nil {
			return false
		}
	}
	return true
}

// lookup resolves name through the cache.
func (s *Sender) lookup(ctx context.Context, name string) ([]netip.Addr, error) {
	now := s.now()
	if addrs, ok := s.names.get(name, now); ok {
		return addrs, nil
	}
	addrs, err := lookupHost(ctx, s.resolver, name)
	if err != nil {
		return nil, err
	}
	s.names.put(name, addrs, now)
	return addrs, nil
}

// lookupHost resolves a callback's host name with resolver (nil: the default). Its
// errors never repeat the resolver's, which names the resolver's address: a name
// that does not exist or has no address wraps ErrInvalidCallbackURL, any other
// failure ErrTemporaryResolution (see resolveError), and ctx's error is returned when
// ctx ended, checked before anything is asked.
func lookupHost(ctx context.Context, resolver *net.Resolver, name string) ([]netip.Addr, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("resolve callback host %s: %w", name, err)
	}
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	addrs, err := resolver.LookupNetIP(ctx, "ip", name)
	var dnsErr *net.DNSError
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("resolve callback host %s: %w", name, ctx.Err())
	case err == nil && len(addrs) > 0:
		return addrs, nil
	case err == nil, errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return nil, fmt.Errorf("%w: host %s could not be resolved: no such host", ErrInvalidCallbackURL, name)
	}
	return nil, &resolveError{host: name, cause: err}
}

// resolveError is a temporary failure to resolve host. Its message names the host
// only; the resolver's error stays reachable with errors.As, for the server's own
// logs.
type resolveError struct {
	host  string
	cause error
}

func (e *resolveError) Error() string {
	return fmt.Sprintf("%s: %s", ErrTemporaryResolution, e.host)
}

func (e *resolveError) Unwrap() []error { return []error{ErrTemporaryResolution, e.cause} }

// nameCache keeps the addresses of recently resolved names for resolveCacheFor;
// expired entries are dropped as new ones come in.
type nameCache struct {
	mu      sync.Mutex
	byName  map[string]cachedAddrs
	sweepAt time.Time
}

type cachedAddrs struct {
	addrs []netip.Addr
	until time.Time
}

func (c *nameCache) get(name string, now time.Time) ([]netip.Addr, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byName[name]
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.addrs, true
}

func (c *nameCache) put(name string, addrs []netip.Addr, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byName == nil {
		c.byName = map[string]cachedAddrs{}
	}
	if !now.Before(c.sweepAt) {
		for n, e := range c.byName {
			if !now.Before(e.until) {
				delete(c.byName, n)
			}
		}
		c.sweepAt = now.Add(resolveCacheFor)
	}
	c.byName[name] = cachedAddrs{addrs: addrs, until: now.Add(resolveCacheFor)}
}

// destinationKey is the context key under which Send passes an attempt's destination
// to the dialer.
type destinationKey struct{}

// dialDestination wraps d for the transport: a connection for a request whose context
// carries a destination goes to the destination's addresses, tried in order, each but
// the last with its share of the time left, as net.Dialer does with a name's
// addresses; the address in the URL is not looked up again. Other requests dial as d
// does.
func dialDestination(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		dest, ok := ctx.Value(destinationKey{}).(destination)
		if !ok {
			return d.DialContext(ctx, network, addr)
		}
		deadline, bounded := ctx.Deadline()
		if d.Timeout > 0 {
			if t := time.Now().Add(d.Timeout); !bounded || t.Before(deadline) {
				deadline, bounded = t, true
			}
		}
		var first error
		for i, a := range dest.addrs {
			tryCtx, cancel := ctx, context.CancelFunc(func() {})
			if left := len(dest.addrs) - i; left > 1 && bounded {
				tryCtx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)/time.Duration(left)))
			}
			conn, err := d.DialContext(tryCtx, network, a.String())
			cancel()
			if err == nil {
				return conn, nil
			}
			if first == nil {
				first = err
			}
			if ctx.Err() != nil {
				break
			}
		}
		return nil, first
	}
}
