package httpapi_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/usage"
)

// TestRedactionRules: GET answers the defaults; PUT replaces them, a field
// left out taking its default and {} going back to them; bad rules are a
// 400 naming the field; only admins; the next ingest is redacted at once
// (this replica forgets its cached rules), the events stored before are
// not.
func TestRedactionRules(t *testing.T) {
	h := newHarness(t, 0)
	admin := h.key(h.ws, usage.ScopeWorkspaceAdmin)
	writer := h.key(h.ws, usage.ScopeEventsWrite)
	reader := h.key(h.ws, usage.ScopeLogsRead)
	r := h.do("GET", "/api/v1/workspace/redaction", admin, "", nil)
	if m := r.json(t); r.status != 200 || m["default"] != true || m["ip"] != "full" || len(m["query_params"].([]any)) != len(usage.DefaultQueryParams) {
		t.Fatalf("defaults: %d %s", r.status, r.body)
	}
	for _, key := range []string{reader, writer} {
		if r := h.do("PUT", "/api/v1/workspace/redaction", key, "application/json", strings.NewReader(`{}`)); r.status != 403 {
			t.Errorf("not an admin: %d", r.status)
		}
	}
	for _, c := range []struct{ body, want string }{
		{`{"ip":"partial"}`, `ip: \"partial\" is not full, truncated or none`},
		{`{"query_params":["token",""]}`, "query_params[1]: empty"},
		{`{"query_params":["a&b"]}`, "query_params[0]"},
		{`{"path_patterns":["^(a"]}`, "path_patterns[0]: error parsing regexp"},
		{`{"path_patterns":"^a$"}`, `field \"path_patterns\"`},
		{`{"colour":"red"}`, "colour"},
	} {
		if r := h.do("PUT", "/api/v1/workspace/redaction", admin, "application/json", strings.NewReader(c.body)); r.status != 400 || !strings.Contains(string(r.body), c.want) {
			t.Errorf("%s: %d %s, want 400 naming %s", c.body, r.status, r.body, c.want)
		}
	}
	send := func(id string) {
		t.Helper()
		body := `{"kind":"api_request","id":"` + id + `","time":"2026-03-08T10:00:00Z","status":200,"url":"/v1/x?sid=abc&token=t0k","ip":"203.0.113.7"}`
		if r := h.do("POST", "/api/v1/events", writer, "application/x-ndjson", strings.NewReader(body)); r.status != 200 {
			t.Fatalf("ingest: %d %s", r.status, r.body)
		}
	}
	send("before")
	r = h.do("PUT", "/api/v1/workspace/redaction", admin, "application/json", strings.NewReader(`{"query_params":["SID"],"ip":"none"}`))
	if m := r.json(t); r.status != 200 || m["default"] != false || m["ip"] != "none" || len(m["path_patterns"].([]any)) != len(usage.DefaultPathPatterns) {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	send("after")
	page, err := h.store.Logs(t.Context(), h.ws.ID, usage.LogQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]usage.Event{}
	for _, e := range page {
		got[e.ID] = e
	}
	if e := got["before"]; e.URL != "/v1/x?sid=abc&token=REDACTED" || e.IP != "203.0.113.7" {
		t.Errorf("stored before, by the defaults: %q %q", e.URL, e.IP)
	}
	if e := got["after"]; e.URL != "/v1/x?sid=REDACTED&token=t0k" || e.IP != "" {
		t.Errorf("stored after: %q %q", e.URL, e.IP)
	}
	if r := h.do("PUT", "/api/v1/workspace/redaction", admin, "application/json", strings.NewReader(`{}`)); r.status != 200 || r.json(t)["default"] != true {
		t.Errorf("back to the defaults: %d %s", r.status, r.body)
	}
}

// TestRedactionDuringIngest: while four clients ingest, the rules change
// back and forth; on SQLite and on ClickHouse every event is stored, once,
// and each is redacted wholly by one set of rules or the other, never by
// half of each.
func TestRedactionDuringIngest(t *testing.T) {
	for _, store := range []string{"sqlite", "clickhouse"} {
		t.Run(store, func(t *testing.T) {
			var events usage.EventStore
			var h *harness
			if store == "clickhouse" {
				ch := clickhouseEvents(t)
				h, events = newHarness(t, 0, func(c *httpapi.Config) { c.Events = ch }), ch
			} else {
				h = newHarness(t, 0)
				events = h.store
			}
			admin := h.key(h.ws, usage.ScopeWorkspaceAdmin)
			writer := h.key(h.ws, usage.ScopeEventsWrite)
			const clients, bodies, perBody = 4, 10, 100
			var wg sync.WaitGroup
			for c := range clients {
				wg.Go(func() {
					for b := range bodies {
						var nd strings.Builder
						for i := range perBody {
							fmt.Fprintf(&nd, `{"kind":"api_request","id":"c%d-b%d-%d","time":"2026-03-08T10:%02d:%02dZ","status":200,"url":"/v1/x?token=t0k&sid=s1d","ip":"203.0.113.7"}`+"\n", c, b, i, b, i%60)
						}
						if r := h.do("POST", "/api/v1/events", writer, "application/x-ndjson", strings.NewReader(nd.String())); r.status != 200 {
							t.Errorf("ingest: %d %s", r.status, r.body)
							return
						}
					}
				})
			}
			rules := []string{`{"query_params":["sid"],"ip":"none"}`, `{}`}
			for i := 0; i < 20; i++ {
				if r := h.do("PUT", "/api/v1/workspace/redaction", admin, "application/json", strings.NewReader(rules[i%2])); r.status != 200 {
					t.Fatalf("put: %d %s", r.status, r.body)
				}
			}
			wg.Wait()
			if n, err := events.Count(t.Context(), h.ws.ID, usage.KindAPIRequest); err != nil || n != clients*bodies*perBody {
				t.Fatalf("stored %d (%v), want %d", n, err, clients*bodies*perBody)
			}
			page, err := events.Logs(t.Context(), h.ws.ID, usage.LogQuery{Limit: clients * bodies * perBody})
			if err != nil {
				t.Fatal(err)
			}
			byRules := map[string]int{}
			for _, e := range page {
				switch {
				case e.URL == "/v1/x?token=t0k&sid=REDACTED" && e.IP == "":
					byRules["sid, no address"]++
				case e.URL == "/v1/x?token=REDACTED&sid=s1d" && e.IP == "203.0.113.7":
					byRules["defaults"]++
				default:
					t.Fatalf("event %s redacted by neither: %q %q", e.ID, e.URL, e.IP)
				}
			}
			if len(page) != clients*bodies*perBody {
				t.Errorf("read %d events, want %d", len(page), clients*bodies*perBody)
			}
			t.Logf("%v", byRules)
		})
	}
}

// TestRedactionOTLPKeepQuery: spans whose query is kept (--otlp-keep-query)
// are redacted as any call: the token's value goes, the page stays.
func TestRedactionOTLPKeepQuery(t *testing.T) {
	h := newHarness(t, 0, func(c *httpapi.Config) { c.OTLP = httpapi.OTLP{KeepQuery: true} })
	body := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},"scopeSpans":[{"spans":[{"traceId":"0123456789abcdef0123456789abcdef","spanId":"0123456789abcdef","name":"GET","kind":2,"startTimeUnixNano":"1772964000000000000","endTimeUnixNano":"1772964000005000000","attributes":[
		{"key":"http.request.method","value":{"stringValue":"GET"}},{"key":"url.path","value":{"stringValue":"/v1/orders"}},{"key":"url.query","value":{"stringValue":"token=s3cr3t&page=2"}},
		{"key":"http.response.status_code","value":{"intValue":"200"}}]}]}]}]}`
	if r := h.do("POST", "/v1/traces", h.key(h.ws, usage.ScopeEventsWrite), "application/json", strings.NewReader(body)); r.status != 200 {
		t.Fatalf("otlp: %d %s", r.status, r.body)
	}
	page, err := h.store.Logs(t.Context(), h.ws.ID, usage.LogQuery{Limit: 10})
	if err != nil || len(page) != 1 {
		t.Fatalf("logs: %d %v", len(page), err)
	}
	if page[0].URL != "/v1/orders?token=REDACTED&page=2" {
		t.Errorf("url %q", page[0].URL)
	}
}
