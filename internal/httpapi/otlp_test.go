package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/usagelog/usagelog/internal/clickhouse"
	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/usage"
)

// otlpStores runs test against a harness on SQLite and on ClickHouse
// (USAGELOG_TEST_CLICKHOUSE; metadata in SQLite either way).
func otlpStores(t *testing.T, test func(t *testing.T, h *harness)) {
	t.Run("sqlite", func(t *testing.T) { test(t, newHarness(t, 1<<20)) })
	t.Run("clickhouse", func(t *testing.T) {
		events := clickhouseEvents(t)
		test(t, newHarness(t, 1<<20, func(c *httpapi.Config) { c.Events = events }))
	})
}

// app is a service instrumented with otelhttp, as a user's would be: its
// spans go to usagelog's /v1/traces through the SDK's OTLP/HTTP exporter.
func app(t *testing.T, endpoint, token string, opts ...otlptracehttp.Option) (*httptest.Server, *sdktrace.TracerProvider) {
	t.Helper()
	if token != "" {
		opts = append(opts, otlptracehttp.WithHeaders(map[string]string{"Authorization": "Bearer " + token}))
	}
	exp, err := otlptracehttp.New(context.Background(), append([]otlptracehttp.Option{
		otlptracehttp.WithEndpointURL(endpoint),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("Orders API"))))
	mux := http.NewServeMux()
	// Each route instrumented inside the mux: otelhttp then records its
	// pattern (http.route).
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, otelhttp.NewHandler(h, pattern, otelhttp.WithTracerProvider(tp)))
	}
	handle("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		span := trace.SpanFromContext(r.Context())
		// The service says who called, as its own code knows.
		span.SetAttributes(attribute.String("usagelog.client", r.Header.Get("X-Client")), attribute.String("enduser.id", "m-42"))
		// Work inside the call: an INTERNAL span, rejected.
		_, inner := tp.Tracer("app").Start(r.Context(), "load order")
		inner.End()
		if r.PathValue("id") == "0" {
			http.Error(w, "no such order", http.StatusNotFound)
			return
		}
		fmt.Fprintln(w, "order", r.PathValue("id"))
	})
	handle("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("usagelog.client", r.Header.Get("X-Client")))
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, tp
}

// TestOTLPFromSDK: calls to a service instrumented with the OpenTelemetry
// Go SDK, exported as protobuf, plain and gzip, are stored as API calls
// field by field, on both stores, and show in the logs, the summary and
// the api-usage export; spans that are not calls are rejected, and an
// exporter's retry is a duplicate.
func TestOTLPFromSDK(t *testing.T) {
	otlpStores(t, func(t *testing.T, h *harness) {
		token := h.key(h.ws, usage.ScopeEventsWrite)
		// The SDK reports a partial success through otel's error handler.
		var mu sync.Mutex
		var reported []string
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			mu.Lock()
			defer mu.Unlock()
			reported = append(reported, err.Error())
		}))
		defer otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
		call := func(srv *httptest.Server, method, path, client string) {
			req, _ := http.NewRequest(method, srv.URL+path, nil)
			req.Header.Set("X-Client", client)
			req.Header.Set("User-Agent", "orders-test/1.0")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		plain, tp := app(t, h.url+"/v1/traces", token)
		call(plain, "GET", "/orders/7?token=s3cret", "ERP")
		call(plain, "GET", "/orders/0", "ERP")
		call(plain, "POST", "/orders", "CRM")
		if err := tp.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		zipped, tpz := app(t, h.url+"/v1/traces", token, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		call(zipped, "GET", "/orders/8", "ERP")
		if err := tpz.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}

		mu.Lock()
		if len(reported) == 0 || !strings.Contains(reported[0], `span "load order"`) || !strings.Contains(reported[0], "kind INTERNAL: only SERVER spans are API calls") {
			t.Errorf("the SDK was told %q, want the INTERNAL spans rejected", reported)
		}
		mu.Unlock()
		reader := h.key(h.ws, usage.ScopeLogsRead, usage.ScopeUsageExportAPI)
		page := h.do("GET", "/api/v1/logs?period=24h&collection=Orders+API", reader, "", nil).json(t)
		items, _ := page["items"].([]any)
		if len(items) != 4 {
			t.Fatalf("logs: %d calls, want 4: %v", len(items), page)
		}
		byURL := map[string]map[string]any{}
		for _, it := range items {
			m := it.(map[string]any)
			byURL[m["method"].(string)+" "+m["url"].(string)] = m
		}
		got := byURL["GET /orders/7"]
		if got == nil {
			t.Fatalf("no GET /orders/7 (the query left out) among %v", byURL)
		}
		for field, want := range map[string]any{"status": 200.0, "endpoint": "/orders/{id}", "client": "ERP", "member_id": "m-42",
			"user_agent": "orders-test/1.0", "ip": "127.0.0.1", "collection": "Orders API", "collection_type": "proxy", "client_class": "Other"} {
			if got[field] != want {
				t.Errorf("GET /orders/7: %s = %v, want %v", field, got[field], want)
			}
		}
		if id, _ := got["id"].(string); !strings.HasPrefix(id, "otel-") || len(id) != len("otel-")+13+1+32+1+16 {
			t.Errorf("id %q, want otel-STARTMS-TRACEID-SPANID", id)
		}
		if ms, ok := got["timing_ms"].(float64); !ok || ms < 0 || ms > 5000 {
			t.Errorf("timing_ms %v", got["timing_ms"])
		}
		if byURL["GET /orders/0"]["status"] != 404.0 || byURL["POST /orders"]["status"] != 503.0 || byURL["POST /orders"]["client"] != "CRM" || byURL["GET /orders/8"] == nil {
			t.Errorf("calls %v", byURL)
		}
		sum := h.do("GET", "/api/v1/summary?period=24h&collection=Orders+API", reader, "", nil).json(t)
		if sum["total"] != 4.0 || sum["errors"] != 2.0 {
			t.Errorf("summary total %v errors %v, want 4 and 2", sum["total"], sum["errors"])
		}
		csv := string(h.do("GET", "/api/v1/exports/api-usage?format=csv&tz=UTC&collection=Orders+API", reader, "", nil).body)
		if strings.Count(csv, "\n") != 5 || strings.Count(csv, "otel-") != 4 || !strings.Contains(csv, ",/orders/7,") {
			t.Errorf("api-usage export:\n%s", csv)
		}
		cols, err := h.store.Collections(context.Background(), h.ws.ID)
		if err != nil || len(cols) != 1 || cols[0].Name != "Orders API" || cols[0].Type != usage.CollectionProxy {
			t.Errorf("collections %+v, %v: want the proxy collection Orders API", cols, err)
		}

		// The same span again (an exporter's retry): a duplicate.
		first, _ := got["id"].(string)
		at, err := time.Parse(time.RFC3339Nano, got["time"].(string))
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(first, "-")
		if len(parts) != 4 || parts[1] != fmt.Sprintf("%013d", at.UnixMilli()) {
			t.Fatalf("id %q: want otel-, the start %d, the trace and span ids", first, at.UnixMilli())
		}
		trace, span := parts[2], parts[3]
		again := fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"Orders API"}}]},
			"scopeSpans":[{"spans":[{"traceId":%q,"spanId":%q,"name":"GET","kind":2,"startTimeUnixNano":"%d","endTimeUnixNano":"%d",
			"attributes":[{"key":"http.request.method","value":{"stringValue":"GET"}},{"key":"http.response.status_code","value":{"intValue":"200"}}]}]}]}]}`,
			trace, span, at.UnixNano(), at.UnixNano()+int64(time.Millisecond))
		if res := h.do("POST", "/v1/traces", token, "application/json", strings.NewReader(again)); res.status != 200 {
			t.Fatalf("retry: %d %s", res.status, res.body)
		}
		if n := len(h.do("GET", "/api/v1/logs?period=24h&collection=Orders+API", reader, "", nil).json(t)["items"].([]any)); n != 4 {
			t.Errorf("after a retry: %d calls, want 4", n)
		}
	})
}

// TestOTLPJSONFile: an OTLP JSON file, as curl would send it, records its
// calls by the older semantic conventions, and its other spans are
// counted as rejected with the first one's reason.
func TestOTLPJSONFile(t *testing.T) {
	otlpStores(t, func(t *testing.T, h *harness) {
		token := h.key(h.ws, usage.ScopeEventsWrite)
		body, err := os.ReadFile("testdata/traces.json")
		if err != nil {
			t.Fatal(err)
		}
		res := h.do("POST", "/v1/traces", token, "application/json", bytes.NewReader(body))
		if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
			t.Fatalf("post: %d %s", res.status, res.body)
		}
		answer := ptraceotlp.NewExportResponse()
		if err := answer.UnmarshalJSON(res.body); err != nil {
			t.Fatalf("answer %s: %v", res.body, err)
		}
		ps := answer.PartialSuccess()
		if ps.RejectedSpans() != 3 || !strings.Contains(ps.ErrorMessage(), `3 of 5 spans rejected; first: span "SELECT invoices"`) ||
			!strings.Contains(ps.ErrorMessage(), "kind CLIENT: only SERVER spans are API calls") {
			t.Fatalf("partial success %d %q", ps.RejectedSpans(), ps.ErrorMessage())
		}
		reader := h.key(h.ws, usage.ScopeLogsRead)
		page := h.do("GET", "/api/v1/logs?from=2025-12-05&to=2025-12-05&tz=UTC", reader, "", nil).json(t)
		items, _ := page["items"].([]any)
		if len(items) != 2 {
			t.Fatalf("logs: %v", page)
		}
		post, get := items[0].(map[string]any), items[1].(map[string]any)
		for field, want := range map[string]any{"id": "otel-1764900000000-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174", "time": "2025-12-05T02:00:00.000Z",
			"method": "GET", "url": "/invoices/7", "endpoint": "/invoices/{id}", "status": 200.0, "timing_ms": 125.0, "user_agent": "curl/8.5.0",
			"ip": "10.1.2.3", "member_id": "m-17", "member_name": `=HYPERLINK("http://evil")`, "client": "Finance app", "collection": "Billing"} {
			if get[field] != want {
				t.Errorf("GET: %s = %v, want %v", field, get[field], want)
			}
		}
		for field, want := range map[string]any{"method": "POST", "url": "/invoices", "status": 503.0, "timing_ms": 3.0, "ip": "2001:db8::7"} {
			if post[field] != want {
				t.Errorf("POST: %s = %v, want %v", field, post[field], want)
			}
		}
		// The CSV of the logs neutralises the formula a span carried.
		if csv := string(h.do("GET", "/api/v1/logs.csv?from=2025-12-05&to=2025-12-05&tz=UTC", reader, "", nil).body); strings.Contains(csv, ",=HYPERLINK") {
			t.Errorf("logs.csv carries a formula:\n%s", csv)
		}
	})
}

// TestOTLPBadRequests: each fault is answered with the status OTLP gives
// it and a google.rpc.Status that names it, in the request's encoding;
// nothing else of the request is lost.
func TestOTLPBadRequests(t *testing.T) {
	h := newHarness(t, 64<<10)
	token := h.key(h.ws, usage.ScopeEventsWrite)
	status := func(res response) (int64, string) {
		t.Helper()
		var code int64
		var msg string
		b := res.body
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			b = b[n:]
			switch {
			case num == 1 && typ == protowire.VarintType:
				v, n := protowire.ConsumeVarint(b)
				code, b = int64(v), b[n:]
			case num == 2 && typ == protowire.BytesType:
				v, n := protowire.ConsumeString(b)
				msg, b = v, b[n:]
			default:
				t.Fatalf("not a Status: %x", res.body)
			}
		}
		return code, msg
	}
	res := h.do("POST", "/v1/traces", token, "application/x-protobuf", strings.NewReader("\x0a\xff\xff\xff\xff\x0fnot a message"))
	if code, msg := status(res); res.status != 400 || code != 3 || !strings.Contains(msg, "not an OTLP ExportTraceServiceRequest in protobuf") {
		t.Errorf("corrupt protobuf: %d %d %q", res.status, code, msg)
	}
	res = h.do("POST", "/v1/traces", token, "text/plain", strings.NewReader("hello"))
	if res.status != 415 || !strings.Contains(string(res.body), `Content-Type \"text/plain\" is not OTLP`) {
		t.Errorf("unknown content type: %d %s", res.status, res.body)
	}
	big := `{"resourceSpans":[` + strings.Repeat(`{"resource":{}},`, 10000) + `{}]}`
	res = h.do("POST", "/v1/traces", token, "application/json", strings.NewReader(big))
	if res.status != 413 || !strings.Contains(string(res.body), "Payload too large") {
		t.Errorf("too large: %d %s", res.status, res.body)
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write([]byte(big))
	zw.Close()
	res = h.doWith("POST", "/v1/traces", token, map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}, &zipped)
	if res.status != 413 {
		t.Errorf("too large once inflated: %d %s", res.status, res.body)
	}
	// A span with a nonsensical time is rejected; its neighbour is stored.
	now := time.Now().UnixNano()
	body := fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"Shop"}}]},"scopeSpans":[{"spans":[
		{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"ok","kind":2,"startTimeUnixNano":"%d","endTimeUnixNano":"%d",
		 "attributes":[{"key":"http.request.method","value":{"stringValue":"GET"}},{"key":"url.path","value":{"stringValue":"/a"}},{"key":"http.response.status_code","value":{"intValue":"200"}}]},
		{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060709","name":"future","kind":2,"startTimeUnixNano":"%d","endTimeUnixNano":"%d",
		 "attributes":[{"key":"http.request.method","value":{"stringValue":"GET"}},{"key":"url.path","value":{"stringValue":"/b"}},{"key":"http.response.status_code","value":{"intValue":"200"}}]},
		{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"010203040506070a","name":"teapot","kind":2,"startTimeUnixNano":"%d","endTimeUnixNano":"%d",
		 "attributes":[{"key":"http.request.method","value":{"stringValue":"GET"}},{"key":"url.path","value":{"stringValue":"/c"}},{"key":"http.response.status_code","value":{"intValue":"999"}}]}
	]}]}]}`, now, now+int64(time.Millisecond), now+int64(400*24*time.Hour), now+int64(400*24*time.Hour)+1, now, now+1)
	res = h.do("POST", "/v1/traces", token, "application/json", strings.NewReader(body))
	answer := ptraceotlp.NewExportResponse()
	if err := answer.UnmarshalJSON(res.body); res.status != 200 || err != nil {
		t.Fatalf("mixed spans: %d %s", res.status, res.body)
	}
	if ps := answer.PartialSuccess(); ps.RejectedSpans() != 2 || !strings.Contains(ps.ErrorMessage(), `span "future"`) || !strings.Contains(ps.ErrorMessage(), "after the server's clock") {
		t.Errorf("mixed spans: %d %q", ps.RejectedSpans(), ps.ErrorMessage())
	}
	reader := h.key(h.ws, usage.ScopeLogsRead)
	items := h.do("GET", "/api/v1/logs?period=24h&collection=Shop", reader, "", nil).json(t)["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["url"] != "/a" {
		t.Errorf("stored %v, want the call to /a", items)
	}
	if res := h.do("POST", "/v1/traces", h.key(h.ws, usage.ScopeLogsRead), "application/json", strings.NewReader(body)); res.status != 403 {
		t.Errorf("a key without EVENTS_WRITE: %d", res.status)
	}
}

// TestOTLPThrottled: over the key's ingest rate the exporter is told to
// wait (429 with Retry-After), and a refused key is told why, each as a
// google.rpc.Status, as OTLP asks.
func TestOTLPThrottled(t *testing.T) {
	h := newHarness(t, 0, func(c *httpapi.Config) { c.RateLimits = httpapi.RateLimits{Ingest: 2} })
	token := h.key(h.ws, usage.ScopeEventsWrite)
	body := `{"resourceSpans":[]}`
	for i := range 2 {
		if res := h.do("POST", "/v1/traces", token, "application/json", strings.NewReader(body)); res.status != 200 {
			t.Fatalf("call %d: %d %s", i, res.status, res.body)
		}
	}
	res := h.do("POST", "/v1/traces", token, "application/json", strings.NewReader(body))
	if res.status != 429 || res.header.Get("Retry-After") == "" || !strings.HasPrefix(string(res.body), `{"code":8,"message":`) {
		t.Fatalf("over the limit: %d, Retry-After %q, %s", res.status, res.header.Get("Retry-After"), res.body)
	}
	// A refused key is told in the request's encoding too.
	res = h.do("POST", "/v1/traces", "ulk_unknown", "application/x-protobuf", strings.NewReader(""))
	if res.status != 401 || res.header.Get("Content-Type") != "application/x-protobuf" || !strings.Contains(string(res.body), "token") {
		t.Fatalf("unknown key: %d %q %q", res.status, res.header.Get("Content-Type"), res.body)
	}
}

// clickhouseEvents is a new ClickHouse event store of its own
// (USAGELOG_TEST_CLICKHOUSE, default 127.0.0.1:9000), dropped after t.
func clickhouseEvents(t testing.TB) *clickhouse.Store {
	t.Helper()
	server := os.Getenv("USAGELOG_TEST_CLICKHOUSE")
	if server == "" {
		server = "127.0.0.1:9000"
	}
	ctx := context.Background()
	s, err := clickhouse.Open(ctx, fmt.Sprintf("clickhouse://%s/usagelog_httpapi_%d_%d", server, os.Getpid(), time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.DropDatabase(ctx); s.Close() })
	return s
}

// TestOTLPThroughCollector: an OpenTelemetry Collector (an OTLP receiver,
// an otlphttp exporter sending gzip JSON; USAGELOG_TEST_OTELCOL, which
// scripts/test.sh builds with scripts/otelcol.sh) between the SDK and
// usagelog: the calls arrive as if sent directly.
func TestOTLPThroughCollector(t *testing.T) {
	bin := os.Getenv("USAGELOG_TEST_OTELCOL")
	if bin == "" {
		t.Fatal("no Collector: set USAGELOG_TEST_OTELCOL (scripts/otelcol.sh builds one; scripts/test.sh does)")
	}
	h := newHarness(t, 1<<20)
	token := h.key(h.ws, usage.ScopeEventsWrite)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	receiver := l.Addr().String()
	l.Close()
	config := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      http:
        endpoint: %s
exporters:
  otlphttp:
    traces_endpoint: %s/v1/traces
    encoding: json
    compression: gzip
    headers:
      Authorization: "Bearer %s"
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlphttp]
`, receiver, h.url, token)
	file := filepath.Join(t.TempDir(), "otelcol.yaml")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", "file:"+file)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		<-exited
		if t.Failed() {
			t.Logf("collector:\n%s", logs.String())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", receiver); err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatal("the collector exited")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the collector did not listen on %s", receiver)
		}
	}
	srv, tp := app(t, "http://"+receiver+"/v1/traces", "")
	for _, path := range []string{"/orders/1", "/orders/2", "/orders/0"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	reader := h.key(h.ws, usage.ScopeLogsRead)
	var items []any
	for deadline := time.Now().Add(30 * time.Second); len(items) < 3; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("usagelog holds %d calls from the collector, want 3", len(items))
		}
		items, _ = h.do("GET", "/api/v1/logs?period=24h&collection=Orders+API", reader, "", nil).json(t)["items"].([]any)
	}
	statuses := map[float64]int{}
	for _, it := range items {
		m := it.(map[string]any)
		statuses[m["status"].(float64)]++
		if m["endpoint"] != "/orders/{id}" || m["method"] != "GET" || !strings.HasPrefix(m["id"].(string), "otel-") {
			t.Errorf("call %v", m)
		}
	}
	if statuses[200] != 2 || statuses[404] != 1 {
		t.Errorf("statuses %v", statuses)
	}
}
