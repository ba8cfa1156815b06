// Package webhook is how usagelog posts to other people's URLs: where it
// may connect (Policy, --webhook-allow) and how a body is signed (Sign,
// Verify). Export schedules and alerts both send through it.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// Policy says where webhooks may go: public addresses, and the
// networks Allow lists (--webhook-allow). Anyone who may create a schedule
// names its webhook, so without it the server would POST to its own
// loopback, its private network or a cloud metadata address for them.
type Policy struct {
	Allow []netip.Prefix
	// Resolver looks names up (default net.DefaultResolver).
	Resolver *net.Resolver
}

// ParseAllow reads --webhook-allow values: CIDRs, or single
// addresses.
func ParseAllow(values []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range values {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return nil, fmt.Errorf("--webhook-allow %q: want a CIDR such as 10.0.0.0/8 or an address", v)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// refusedAddr is an address the policy does not send to.
type refusedAddr struct {
	addr netip.Addr
	why  string
}

func (e *refusedAddr) Error() string {
	return fmt.Sprintf("%s is %s: webhooks go to public addresses unless --webhook-allow lists it", e.addr, e.why)
}

// sharedSpace is carrier-grade NAT space (RFC 6598), and thisNetwork
// 0.0.0.0/8: neither is public.
var sharedSpace, thisNetwork = netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("0.0.0.0/8")

// check refuses an address that is not public, unless allowed.
func (p Policy) check(a netip.Addr) error {
	a = a.Unmap()
	for _, allow := range p.Allow {
		if allow.Contains(a) {
			return nil
		}
	}
	why := ""
	switch {
	case a.IsLoopback():
		why = "a loopback address"
	case a.IsPrivate() || sharedSpace.Contains(a):
		why = "a private address"
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		why = "a link-local address"
	case a.IsMulticast() || a.IsInterfaceLocalMulticast():
		why = "a multicast address"
	case a.IsUnspecified() || thisNetwork.Contains(a):
		why = "an unspecified address"
	default:
		return nil
	}
	return &refusedAddr{a, why}
}

// Check refuses a webhook URL whose host resolves to an address the
// policy does not send to: a schedule's creation is refused with it. The
// delivery checks each address again as it connects (DNS can change).
func (p Policy) Check(ctx context.Context, raw string) error {
	return p.CheckField(ctx, "webhookUrl", raw)
}

// CheckField is Check with its errors naming field, as the request that
// gave raw names it.
func (p Policy) CheckField(ctx context.Context, field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return usage.Errorf(usage.EInvalid, "%s: %q is not an http or https URL", field, raw)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(u.Hostname()); err == nil {
		addrs = []netip.Addr{a}
	} else {
		r := p.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if addrs, err = r.LookupNetIP(lctx, "ip", u.Hostname()); err != nil {
			// A name that does not resolve yet goes nowhere; the
			// delivery checks where it leads once it does.
			return nil
		}
	}
	for _, a := range addrs {
		var r *refusedAddr
		if errors.As(p.check(a), &r) {
			if a.String() == u.Hostname() {
				return usage.Errorf(usage.EInvalid, "%s: %q: %v", field, raw, r)
			}
			return usage.Errorf(usage.EInvalid, "%s: %q: %s resolves to %v", field, raw, u.Hostname(), r)
		}
	}
	return nil
}

// Client is an HTTP client that connects only where the policy sends
// webhooks, checked on the address it connects to, and follows no
// redirects (a 3xx is the receiver's answer).
func (p Policy) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, Resolver: p.Resolver,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("webhook: address %q: %w", address, err)
			}
			return p.check(ap.Addr())
		}}
	return &http.Client{
		Timeout:       timeout,
		Transport:     &http.Transport{DialContext: d.DialContext, TLSHandshakeTimeout: 10 * time.Second, ForceAttemptHTTP2: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// IsRefused tells whether err is the policy's refusal of an address.
func IsRefused(err error) bool {
	var r *refusedAddr
	return errors.As(err, &r)
}

// Refusal is the policy's words in err.
func Refusal(err error) string {
	var r *refusedAddr
	if errors.As(err, &r) {
		return r.Error()
	}
	return err.Error()
}
