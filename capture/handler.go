package capture

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Options says how Handler labels the calls it records.
type Options struct {
	Recorder *Recorder
	// Collection, Community and CollectionType ("proxy" or "recipe") label
	// every call.
	Collection     string
	Community      string
	CollectionType string
	// Client names the caller of a request, for example from its API key;
	// nil records no client.
	Client func(*http.Request) string
	// Member gives the platform member a request was made for, its id
	// and name (the seed's Member Name), for example from the session the
	// request carries; nil records none. It runs after the handler.
	Member func(*http.Request) (id, name string)
	// Job gives the link of the job that made a request (an integration
	// sync, a scheduled task); nil records none.
	Job func(*http.Request) string
	// TrustedProxies are the peers whose X-Forwarded-For is believed; from
	// anyone else it is ignored, so a caller cannot choose its recorded IP.
	TrustedProxies []netip.Prefix
}

// Handler records every request to next as an api_request call: method,
// path, the ServeMux pattern that matched as the endpoint, status, time
// taken, client, IP and user agent. Recording costs next's caller a buffer
// send; delivery happens in the Recorder's goroutines.
func Handler(next http.Handler, opts Options) http.Handler {
	return &handler{next: next, opts: opts}
}

type handler struct {
	next http.Handler
	opts Options
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &StatusWriter{ResponseWriter: w}
	h.next.ServeHTTP(sw, r)
	c := Call{
		Time:           start,
		Method:         r.Method,
		URL:            r.URL.Path,
		Endpoint:       endpoint(r),
		Status:         sw.Status,
		Community:      h.opts.Community,
		Collection:     h.opts.Collection,
		CollectionType: h.opts.CollectionType,
		IP:             ClientIP(r, h.opts.TrustedProxies),
		UserAgent:      r.Header.Get("User-Agent"),
		TimingMS:       time.Since(start).Milliseconds(),
	}
	if h.opts.Client != nil {
		c.Client = h.opts.Client(r)
	}
	if h.opts.Member != nil {
		c.MemberID, c.MemberName = h.opts.Member(r)
	}
	if h.opts.Job != nil {
		c.JobURL = h.opts.Job(r)
	}
	h.opts.Recorder.Record(c)
}

// endpoint is the path of the pattern a ServeMux matched ("/orders/{id}"),
// or the path as called when there was none.
func endpoint(r *http.Request) string {
	p := r.Pattern
	if p == "" {
		return r.URL.Path
	}
	if i := strings.IndexByte(p, '/'); i > 0 {
		p = p[i:] // drop "GET host" before the path
	}
	return p
}

// StatusWriter is a ResponseWriter that remembers the status answered
// with: 200 when the handler wrote without WriteHeader, 0 while nothing was
// written.
type StatusWriter struct {
	http.ResponseWriter
	Status int
}

// WriteHeader implements http.ResponseWriter.
func (w *StatusWriter) WriteHeader(code int) {
	if w.Status == 0 && code >= 200 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush, Hijack and deadlines.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ClientIP is the caller's address: the peer's, or, when the peer is a
// trusted proxy, the nearest X-Forwarded-For entry that is not itself a
// trusted proxy.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(trusted) == 0 {
		return host
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(peer, trusted) {
		return host
	}
	xff := r.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		hops := strings.Split(xff[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			hop := strings.TrimSpace(hops[j])
			addr, err := netip.ParseAddr(hop)
			if err != nil {
				return host // a forged or broken header: trust only the peer
			}
			if !isTrusted(addr, trusted) {
				return addr.Unmap().String()
			}
		}
	}
	return host
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies parses CIDRs ("10.0.0.0/8") and single addresses.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		for _, part := range strings.Split(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if p, err := netip.ParsePrefix(part); err == nil {
				out = append(out, p.Masked())
				continue
			}
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, &net.ParseError{Type: "trusted proxy (CIDR or IP address)", Text: part}
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out, nil
}
