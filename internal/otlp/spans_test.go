package otlp

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/usagelog/usagelog/internal/usage"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// traces is one resource (service.name Shop, resource attributes res) with
// one SERVER span per attrs, each 42 ms long.
func traces(res map[string]any, attrs ...map[string]any) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "Shop")
	rs.Resource().Attributes().FromRaw(mergeRaw(map[string]any{"service.name": "Shop"}, res))
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i, a := range attrs {
		sp := spans.AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
		sp.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, byte(i + 1)})
		sp.SetName("span")
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(42 * time.Millisecond)))
		sp.Attributes().FromRaw(a)
	}
	return td
}

func mergeRaw(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}

func TestMap(t *testing.T) {
	tests := []struct {
		name   string
		m      Mapper
		res    map[string]any
		attrs  map[string]any
		want   usage.Event // the fields checked: method, url, endpoint, status, ua, ip, client, member, details
		reject string
	}{
		{name: "current conventions", attrs: map[string]any{"http.request.method": "get", "url.path": "/orders/7", "url.query": "token=x",
			"http.route": "/orders/{id}", "http.response.status_code": 200, "user_agent.original": "curl/8", "client.address": "10.0.0.1",
			"usagelog.client": "ERP", "enduser.id": "m-1", "enduser.name": "Ada", "error.type": ""},
			want: usage.Event{Method: "GET", URL: "/orders/7", Endpoint: "/orders/{id}", Status: 200, UserAgent: "curl/8", IP: "10.0.0.1", Client: "ERP", MemberID: "m-1", MemberName: "Ada"}},
		{name: "query kept when asked", m: Mapper{KeepQuery: true}, attrs: map[string]any{"http.request.method": "GET", "url.path": "/a", "url.query": "page=2",
			"http.response.status_code": 200},
			want: usage.Event{Method: "GET", URL: "/a?page=2", Status: 200}},
		{name: "older conventions", attrs: map[string]any{"http.method": "POST", "http.target": "/pay?key=secret", "http.status_code": "502",
			"http.user_agent": "Go-http-client/1.1", "net.peer.ip": "2001:db8::1", "error.type": "timeout"},
			want: usage.Event{Method: "POST", URL: "/pay", Status: 502, UserAgent: "Go-http-client/1.1", IP: "2001:db8::1", StatusDetails: "timeout"}},
		{name: "a whole URL", attrs: map[string]any{"http.method": "GET", "http.url": "https://shop.example.com/cart?x=1", "http.status_code": 204,
			"net.sock.peer.addr": "192.0.2.1:51234"},
			want: usage.Event{Method: "GET", URL: "/cart", Status: 204, IP: "192.0.2.1"}},
		{name: "client from the resource, before a later attribute on the span", res: map[string]any{"usagelog.client": "Mobile"},
			attrs: map[string]any{"http.request.method": "GET", "url.path": "/", "http.response.status_code": 200, "enduser.id": "m-2"},
			want:  usage.Event{Method: "GET", URL: "/", Status: 200, Client: "Mobile", MemberID: "m-2"}},
		{name: "client attribute configured", m: Mapper{ClientAttributes: []string{"app.tenant"}},
			attrs: map[string]any{"http.request.method": "GET", "url.path": "/", "http.response.status_code": 200, "app.tenant": "Acme", "usagelog.client": "no"},
			want:  usage.Event{Method: "GET", URL: "/", Status: 200, Client: "Acme"}},
		{name: "no http attributes", attrs: map[string]any{"messaging.system": "kafka"}, reject: "is not an HTTP call"},
		{name: "status out of range", attrs: map[string]any{"http.request.method": "GET", "http.response.status_code": 999}, reject: "http.response.status_code 999 is not an HTTP status code"},
		{name: "status not a number", attrs: map[string]any{"http.request.method": "GET", "http.status_code": "OK"}, reject: "is not an HTTP status code"},
		{name: "too long", attrs: map[string]any{"http.request.method": "GET", "url.path": "/" + strings.Repeat("a", 70000), "http.response.status_code": 200}, reject: "url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.m.Map(traces(tt.res, tt.attrs))
			if tt.reject != "" {
				if len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Reason, tt.reject) || len(res.Events) != 0 {
					t.Fatalf("got %+v, want a rejection naming %q", res, tt.reject)
				}
				return
			}
			if len(res.Events) != 1 || len(res.Rejected) != 0 {
				t.Fatalf("got %+v", res)
			}
			e, w := res.Events[0], tt.want
			if e.Kind != usage.KindAPIRequest || e.ID != "otel-1796115600000-0102030405060708090a0b0c0d0e0f10-0102030405060701" || !e.Time.Equal(t0) || e.TimingMS != 42 ||
				e.Collection != "Shop" || e.CollectionType != usage.CollectionProxy {
				t.Errorf("event %+v", e)
			}
			if e.Method != w.Method || e.URL != w.URL || e.Endpoint != w.Endpoint || e.Status != w.Status || e.UserAgent != w.UserAgent || e.IP != w.IP ||
				e.Client != w.Client || e.MemberID != w.MemberID || e.MemberName != w.MemberName || e.StatusDetails != w.StatusDetails {
				t.Errorf("got  %+v\nwant %+v", e, w)
			}
			if len(res.Collections) != 1 || res.Collections[0] != "Shop" {
				t.Errorf("collections %v", res.Collections)
			}
		})
	}
}

func TestMapRejectsTimesAndKinds(t *testing.T) {
	call := map[string]any{"http.request.method": "GET", "url.path": "/", "http.response.status_code": 200}
	td := traces(nil, call, call, call, call)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	spans.At(1).SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(-time.Second)))
	spans.At(2).SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(48 * time.Hour)))
	spans.At(2).SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(49 * time.Hour)))
	spans.At(3).SetKind(ptrace.SpanKindClient)
	m := Mapper{Now: t0, MaxFuture: 24 * time.Hour}
	res := m.Map(td)
	if len(res.Events) != 1 || len(res.Rejected) != 3 {
		t.Fatalf("got %+v", res)
	}
	for i, want := range []string{"ends (2026-12-01T08:59:59Z) before it starts", "more than 24h0m0s after the server's clock", "kind CLIENT"} {
		if !strings.Contains(res.Rejected[i].Reason, want) {
			t.Errorf("rejection %d: %q, want %q", i, res.Rejected[i].Reason, want)
		}
	}
	noService := ptrace.NewTraces()
	rs := noService.ResourceSpans().AppendEmpty()
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetKind(ptrace.SpanKindServer)
	sp.SetTraceID(pcommon.TraceID{1})
	sp.SetSpanID(pcommon.SpanID{1})
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0))
	sp.Attributes().FromRaw(call)
	if res := m.Map(noService); len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Reason, "service.name") {
		t.Errorf("no service.name: %+v", res)
	}
}

// TestREADMEListsTheAttributes: the README's table gives each field's
// attributes in the order they are read.
func TestREADMEListsTheAttributes(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if cells := strings.Split(line, "|"); len(cells) > 3 {
			for _, f := range strings.Split(cells[1], ",") {
				rows[strings.Trim(strings.TrimSpace(f), "`")] = cells[2]
			}
		}
	}
	for _, a := range Attributes {
		row, ok := rows[a.Field]
		if !ok {
			t.Errorf("README: no row for %s", a.Field)
			continue
		}
		at := 0
		for _, name := range a.From {
			i := strings.Index(row, "`"+name+"`")
			if i < at {
				t.Errorf("README: %s: %s missing or out of order in %q", a.Field, name, row)
			}
			at = i
		}
	}
}

// FuzzMap: any body that decodes as a request maps without panicking, and
// every span is either an event or a rejection.
func FuzzMap(f *testing.F) {
	td := traces(nil, map[string]any{"http.request.method": "GET", "url.path": "/", "http.response.status_code": 200})
	body, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	f.Add(body)
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		req := ptraceotlp.NewExportRequest()
		if req.UnmarshalProto(b) != nil {
			return
		}
		res := (&Mapper{Now: t0, MaxFuture: time.Hour}).Map(req.Traces())
		if got := len(res.Events) + len(res.Rejected); got != req.Traces().SpanCount() {
			t.Fatalf("%d spans became %d events and rejections", req.Traces().SpanCount(), got)
		}
	})
}

// BenchmarkMap maps a request of 1,000 SERVER spans.
func BenchmarkMap(b *testing.B) {
	attrs := make([]map[string]any, 1000)
	for i := range attrs {
		attrs[i] = map[string]any{"http.request.method": "GET", "url.path": "/a/rest/v1/orders/7", "http.route": "/orders/{id}",
			"http.response.status_code": 200, "user_agent.original": "Mozilla/5.0", "client.address": "10.0.0.1", "usagelog.client": "ERP"}
	}
	td := traces(nil, attrs...)
	m := &Mapper{Now: t0, MaxFuture: time.Hour}
	b.ReportAllocs()
	for b.Loop() {
		if res := m.Map(td); len(res.Events) != 1000 {
			b.Fatal(len(res.Rejected), res.Rejected[0])
		}
	}
}

// TestSpanEventIDOrder: ids sort as their spans started, whatever their
// trace ids (random, as the SDKs make them), and a span's id is the same
// each time it comes.
func TestSpanEventIDOrder(t *testing.T) {
	starts := []time.Time{
		time.UnixMilli(1).UTC(), time.Date(1999, 12, 31, 23, 59, 59, 999e6, time.UTC), time.Date(2001, 9, 9, 1, 46, 40, 0, time.UTC),
		t0, t0.Add(time.Millisecond), t0.Add(time.Hour), time.Date(2286, 11, 20, 17, 46, 39, 0, time.UTC),
	}
	traces := []pcommon.TraceID{{0xff}, {0x00, 1}, {0x80}, {0xfe}, {0x01}, {0x7f}, {0x00, 2}}
	var ids []string
	for i, at := range starts {
		start := pcommon.NewTimestampFromTime(at)
		id := spanEventID(start, traces[i], pcommon.SpanID{byte(i + 1)})
		if again := spanEventID(start, traces[i], pcommon.SpanID{byte(i + 1)}); again != id {
			t.Errorf("%s: %q then %q", at, id, again)
		}
		ids = append(ids, id)
	}
	if !slices.IsSorted(ids) {
		t.Errorf("ids not in the order of their starts:\n%s", strings.Join(ids, "\n"))
	}
	if want := "otel-0000000000001-ff000000000000000000000000000000-0100000000000000"; ids[0] != want {
		t.Errorf("id %q, want %q", ids[0], want)
	}
}
