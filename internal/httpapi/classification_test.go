package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/reclassify"
	"github.com/usagelog/usagelog/internal/usage"
)

// TestClassificationRules: GET answers the defaults, PUT replaces them
// (first match wins) for the events stored after it at once and for those
// stored before by a reclassification whose progress GET shows, bad rules
// are a 400 naming the rule, and the API usage export names the rule's
// system.
func TestClassificationRules(t *testing.T) {
	var runner *reclassify.Runner
	h := newHarness(t, 0, func(c *httpapi.Config) {
		var err error
		if runner, err = reclassify.New(reclassify.Config{Events: c.Events, Meta: c.Meta.(reclassify.Meta), Settle: time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		c.Reclassifier = runner
	})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { runner.Loop(ctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	admin := h.key(h.ws, usage.ScopeWorkspaceAdmin)
	writer := h.key(h.ws, usage.ScopeEventsWrite)
	reader := h.key(h.ws, usage.ScopeLogsRead)
	r := h.do("GET", "/api/v1/workspace/classification", admin, "", nil)
	if m := r.json(t); r.status != 200 || m["default"] != true || len(m["rules"].([]any)) != len(usage.DefaultRules) ||
		m["reclassification"].(map[string]any)["state"] != "none" {
		t.Fatalf("defaults: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/api/v1/workspace/classification", reader, "", nil); r.status != 403 {
		t.Errorf("a reader: %d", r.status)
	}
	send := func(id, url, ua string) {
		body := fmt.Sprintf(`{"kind":"api_request","id":%q,"time":"2026-03-08T10:00:00Z","status":200,"url":%q,"user_agent":%q}`, id, url, ua)
		if r := h.do("POST", "/api/v1/events", writer, "application/x-ndjson", strings.NewReader(body)); r.status != 200 {
			t.Fatalf("ingest: %d %s", r.status, r.body)
		}
	}
	send("before", "/v2/orders/1", "shop-mcp/1.0")
	for _, c := range []struct{ body, want string }{
		{`{"rules":[{"url_prefix":"/v2/","system":"Shop","usage_type":"robot"}]}`, `rules[0].usage_type: unknown usage type \"robot\"`},
		{`{"rules":[{"url_prefix":"/v2/","system":"Shop","usage_type":"other"},{"system":"X","usage_type":"mcp"}]}`, "rules[1]: give a url_prefix"},
		{`{"rules":[{"url_prefix":"/v2/","system":"Shop","usage_type":"other","colour":"red"}]}`, "colour"},
		{`{}`, `field \"rules\" is required`},
		{`{"rules":[` + strings.Repeat(`{"url_prefix":"/","system":"S","usage_type":"other"},`, 200) + `{"url_prefix":"/","system":"S","usage_type":"other"}]}`, "201 rules, at most 200"},
	} {
		if r := h.do("PUT", "/api/v1/workspace/classification", admin, "application/json", strings.NewReader(c.body)); r.status != 400 || !strings.Contains(string(r.body), c.want) {
			t.Errorf("%.80s: %d %s, want 400 naming %s", c.body, r.status, r.body, c.want)
		}
	}
	r = h.do("PUT", "/api/v1/workspace/classification", admin, "application/json", strings.NewReader(`{"rules":[
		{"url_prefix":"/v2/orders/","user_agent_prefix":"shop-mcp/","system":"Shop MCP","usage_type":"mcp"},
		{"url_prefix":"/v2/","system":"Shop API","usage_type":"other"}]}`))
	if m := r.json(t); r.status != 200 || m["default"] != false || len(m["rules"].([]any)) != 2 {
		t.Fatalf("put: %d %s", r.status, r.body)
	}
	send("mcp", "/v2/orders/1", "shop-mcp/1.0")
	send("api", "/v2/orders/1", "curl/8")
	send("other", "/v3/x", "curl/8")
	// The call stored before the rules follows them once the
	// reclassification is done.
	var rc map[string]any
	for deadline := time.Now().Add(10 * time.Second); ; {
		rc = h.do("GET", "/api/v1/workspace/classification", admin, "", nil).json(t)["reclassification"].(map[string]any)
		if rc["state"] == "done" || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rc["state"] != "done" || rc["changed"] != 1.0 || rc["done"] != rc["total"] || rc["finished_at"] == nil {
		t.Errorf("reclassification %v, want done with one call changed", rc)
	}
	got := map[string]usage.Event{}
	events, err := h.store.Logs(context.Background(), h.ws.ID, usage.LogQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		got[e.ID] = e
	}
	for id, want := range map[string]struct {
		system string
		typ    usage.Type
	}{"before": {"Shop MCP", usage.TypeMCP}, "mcp": {"Shop MCP", usage.TypeMCP}, "api": {"Shop API", usage.TypeOther}, "other": {"Other", usage.TypeOther}} {
		if e := got[id]; e.ClientClass.Label() != want.system || e.UsageType != want.typ {
			t.Errorf("%s: %q %s, want %q %s", id, e.ClientClass.Label(), e.UsageType, want.system, want.typ)
		}
	}
	csv := string(h.do("GET", "/api/v1/exports/api-usage?format=csv&tz=UTC", reader, "", nil).body)
	if !strings.Contains(csv, "System: Shop MCP, User-Agent: shop-mcp/1.0") {
		t.Errorf("Remote System Info: %s", csv)
	}
	// null goes back to the defaults.
	if r := h.do("PUT", "/api/v1/workspace/classification", admin, "application/json", strings.NewReader(`{"rules":null}`)); r.json(t)["default"] != true {
		t.Errorf("reset: %s", r.body)
	}
}
