// Package otlp turns OpenTelemetry traces (OTLP) into usagelog events: a
// span of kind SERVER with HTTP attributes is an API call; any other span
// is rejected with its reason.
package otlp

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/usage"
)

// Attributes names, for each event field, the span attributes it is read
// from, first found first: the current semantic conventions, then the
// older ones many SDKs still send. The README's table is this one.
var Attributes = []struct {
	Field string
	From  []string
}{
	{"method", []string{"http.request.method", "http.method"}},
	{"url", []string{"url.path", "http.target", "url.full", "http.url"}},
	{"endpoint", []string{"http.route"}},
	{"status", []string{"http.response.status_code", "http.status_code"}},
	{"user_agent", []string{"user_agent.original", "http.user_agent"}},
	{"ip", []string{"client.address", "http.client_ip", "net.sock.peer.addr", "net.peer.ip"}},
	{"status_details", []string{"error.type"}},
	{"member_id", []string{"enduser.id"}},
	{"member_name", []string{"enduser.name"}},
}

// from is Attributes by field.
var from = func() map[string][]string {
	m := map[string][]string{}
	for _, a := range Attributes {
		m[a.Field] = a.From
	}
	return m
}()

// DefaultClientAttributes are where the client is read from without
// serve --otlp-client-attribute.
var DefaultClientAttributes = []string{"usagelog.client", "enduser.id"}

// Mapper maps spans to api_request events.
type Mapper struct {
	// ClientAttributes are the span (then resource) attributes the
	// client is read from, first found first; nil: the defaults.
	ClientAttributes []string
	// KeepQuery keeps the query string (url.query, or the target's) in
	// the recorded URL; without it the URL is the path alone, as query
	// strings often carry tokens.
	KeepQuery bool
	// Now and MaxFuture refuse spans that start further in the future
	// than ingest takes events (0: no bound).
	Now       time.Time
	MaxFuture time.Duration
}

// Rejection is a span that is not recorded, and why.
type Rejection struct {
	Span   string // the span's name and id
	Reason string
}

// Result is what a request's spans became.
type Result struct {
	Events   []usage.Event
	Rejected []Rejection
	// Collections are the service names the events name, for creating
	// the collections not yet known.
	Collections []string
}

// Map maps every span of td.
func (m *Mapper) Map(td ptrace.Traces) Result {
	// An Event is large: growing the slice span by span was most of the
	// mapping's time (BenchmarkMap).
	res := Result{Events: make([]usage.Event, 0, td.SpanCount())}
	var check ingest.Checker
	seen := map[string]bool{}
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		attrs := rs.Resource().Attributes()
		service := str(attrs, "service.name")
		sss := rs.ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				sp := spans.At(k)
				// The event is made in its place in the result, and taken
				// back out when the span is rejected.
				res.Events = append(res.Events, usage.Event{})
				if err := m.event(&res.Events[len(res.Events)-1], &check, sp, attrs, service); err != nil {
					res.Events = res.Events[:len(res.Events)-1]
					res.Rejected = append(res.Rejected, Rejection{Span: fmt.Sprintf("%q (%s)", sp.Name(), sp.SpanID()), Reason: err.Error()})
					continue
				}
				if !seen[service] {
					seen[service] = true
					res.Collections = append(res.Collections, service)
				}
			}
		}
	}
	return res
}

// event makes *e of sp, checked as ingest checks an event.
func (m *Mapper) event(e *usage.Event, check *ingest.Checker, sp ptrace.Span, res pcommon.Map, service string) error {
	if sp.Kind() != ptrace.SpanKindServer {
		return fmt.Errorf("kind %s: only SERVER spans are API calls", strings.ToUpper(sp.Kind().String()))
	}
	a := sp.Attributes()
	method := first(a, from["method"]...)
	status, statusKey := firstInt(a, from["status"]...)
	if method == "" || statusKey == "" {
		return fmt.Errorf("a SERVER span without http.request.method and http.response.status_code (or http.method and http.status_code) is not an HTTP call")
	}
	if sp.TraceID().IsEmpty() || sp.SpanID().IsEmpty() {
		return fmt.Errorf("no trace or span id")
	}
	if service == "" {
		return fmt.Errorf("the resource has no service.name (the collection)")
	}
	start, end := sp.StartTimestamp(), sp.EndTimestamp()
	switch {
	case start == 0:
		return fmt.Errorf("start time is not set")
	case end < start:
		return fmt.Errorf("ends (%s) before it starts (%s)", end.AsTime().Format(time.RFC3339Nano), start.AsTime().Format(time.RFC3339Nano))
	case m.MaxFuture > 0 && start.AsTime().After(m.Now.Add(m.MaxFuture)):
		return fmt.Errorf("starts at %s, more than %s after the server's clock", start.AsTime().Format(time.RFC3339Nano), m.MaxFuture)
	}
	if status < 100 || status > 599 {
		return fmt.Errorf("%s %d is not an HTTP status code (100-599)", statusKey, status)
	}
	*e = usage.Event{
		Kind: usage.KindAPIRequest, ID: spanEventID(start, sp.TraceID(), sp.SpanID()),
		Time: start.AsTime(), Method: method, URL: m.url(a), Endpoint: first(a, from["endpoint"]...), Status: int(status),
		StatusDetails: first(a, from["status_details"]...), Collection: service, CollectionType: usage.CollectionProxy,
		UserAgent: first(a, from["user_agent"]...), IP: first(a, from["ip"]...),
		MemberID: first(a, from["member_id"]...), MemberName: first(a, from["member_name"]...),
		TimingMS: int64(end-start) / int64(time.Millisecond),
	}
	clients := m.ClientAttributes
	if clients == nil {
		clients = DefaultClientAttributes
	}
	// Each attribute on the span, then on the resource, before the next.
	for _, k := range clients {
		if e.Client = first(a, k); e.Client == "" {
			e.Client = first(res, k)
		}
		if e.Client != "" {
			break
		}
	}
	if e.IP != "" && net.ParseIP(e.IP) == nil {
		// A peer given as host:port keeps its host.
		if h, _, err := net.SplitHostPort(e.IP); err == nil {
			e.IP = h
		}
	}
	// The span is checked as an NDJSON event of the same fields is.
	return check.CheckInPlace(e)
}

// url is the call's path (and query, with KeepQuery).
func (m *Mapper) url(a pcommon.Map) string {
	// url.path and url.query are the current conventions' parts; the
	// other attributes of the field hold a target or a whole URL.
	path, query := str(a, "url.path"), str(a, "url.query")
	if path == "" {
		raw := first(a, from["url"][1:]...)
		if u, err := url.Parse(raw); err == nil && raw != "" {
			path, query = u.EscapedPath(), u.RawQuery
			if path == "" {
				path = "/"
			}
		} else {
			path, query, _ = strings.Cut(raw, "?")
		}
	}
	if m.KeepQuery && query != "" {
		return path + "?" + query
	}
	return path
}

func str(a pcommon.Map, key string) string {
	if v, ok := a.Get(key); ok {
		return v.AsString()
	}
	return ""
}

func first(a pcommon.Map, keys ...string) string {
	for _, k := range keys {
		if v := str(a, k); v != "" {
			return v
		}
	}
	return ""
}

// firstInt is the first of keys that a holds as a number (or a string of
// one), and its key.
func firstInt(a pcommon.Map, keys ...string) (int64, string) {
	for _, k := range keys {
		v, ok := a.Get(k)
		if !ok {
			continue
		}
		switch v.Type() {
		case pcommon.ValueTypeInt:
			return v.Int(), k
		case pcommon.ValueTypeDouble:
			return int64(v.Double()), k
		case pcommon.ValueTypeStr:
			if n, err := strconv.ParseInt(v.Str(), 10, 64); err == nil {
				return n, k
			}
			return -1, k
		}
		return -1, k
	}
	return 0, ""
}

// spanEventID is the id of a span's event: made of the span's own start
// (Unix milliseconds, the event's time), trace id and span id, so that an
// exporter's retry is a duplicate. The start comes first, 13 digits wide,
// so that ids sort as the spans started: trace ids are random, and an
// index of random keys takes each new one at a random place, which made
// SQLite store spans at about half the rate (BenchmarkOTLP).
func spanEventID(start pcommon.Timestamp, trace pcommon.TraceID, span pcommon.SpanID) string {
	ms := strconv.FormatUint(uint64(start)/uint64(time.Millisecond), 10)
	b := make([]byte, 0, len("otel-")+13+1+2*len(trace)+1+2*len(span))
	b = append(b, "otel-"...)
	for range 13 - len(ms) {
		b = append(b, '0')
	}
	b = hex.AppendEncode(append(append(b, ms...), '-'), trace[:])
	b = hex.AppendEncode(append(b, '-'), span[:])
	return string(b)
}
