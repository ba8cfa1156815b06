package httpapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/alerts"
	"github.com/usagelog/usagelog/internal/alerts/alertstest"
	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
	"github.com/usagelog/usagelog/internal/webhook"
)

// TestAlertsAPI: a rule is created, read, replaced and deleted through the
// API, with every fault of a bad one named; measured by the runner over
// calls stored in the workspace, it fires and resolves, and its webhook
// receives signed JSON and Slack bodies.
func TestAlertsAPI(t *testing.T) {
	rc := &alertstest.Receiver{}
	target := httptest.NewServer(rc)
	defer target.Close()
	loopback := webhook.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	T := time.Date(2026, 11, 20, 12, 1, 0, 0, time.UTC)
	clk := &clock{t: T.Add(-time.Hour)}
	h := newHarness(t, 0, func(cfg *httpapi.Config) {
		cfg.Webhooks = loopback
		cfg.Now = clk.Now
	})
	admin := h.key(h.ws, usage.ScopeWorkspaceAdmin)
	reader := h.key(h.ws, usage.ScopeLogsRead)
	ctx := context.Background()

	rule := fmt.Sprintf(`{"name":"Orders API failing","metric":"error_rate","op":">","threshold":0.05,"window":"15m",
		"filters":{"collection":["Orders"],"client":[]},"min_calls":10,"notify":{"webhook":%q},"renotify":"1h"}`, target.URL+"/hook")
	if res := h.do("POST", "/api/v1/alerts", reader, "application/json", strings.NewReader(rule)); res.status != 403 {
		t.Fatalf("reader creates a rule: %d %s", res.status, res.body)
	}
	for _, bad := range []struct{ body, want string }{
		{`{"name":"x","metric":"latency","op":">","threshold":1,"window":"5m"}`, `metric: unknown metric "latency"`},
		{`{"name":"x","metric":"calls","op":">","threshold":"many","window":"5m"}`, `field "threshold"`},
		{`{"name":"x","metric":"calls","op":">","threshold":1,"window":"30s"}`, `window: "30s" is not a span`},
		{`{"name":"x","metric":"calls","op":">","threshold":1,"window":"5m","filters":{"colour":["red"]}}`, `unknown parameter "colour"`},
		{`{"name":"x","metric":"calls","op":">","threshold":1,"window":"5m","notify":{"webhook":"http://10.1.2.3/x"}}`, "notify.webhook"},
		{`{"name":"x","metric":"calls","op":">","threshold":1,"window":"5m","surprise":1}`, "surprise"},
	} {
		res := h.do("POST", "/api/v1/alerts", admin, "application/json", strings.NewReader(bad.body))
		msg, _ := res.json(t)["error"].(map[string]any)["message"].(string)
		if res.status != 400 || !strings.Contains(msg, bad.want) {
			t.Errorf("%s: %d %s, want 400 naming %s", bad.body, res.status, res.body, bad.want)
		}
	}
	res := h.do("POST", "/api/v1/alerts", admin, "application/json", strings.NewReader(rule))
	if res.status != 201 {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	created := res.json(t)
	id, _ := created["id"].(string)
	secret, _ := created["webhook_secret"].(string)
	rc.SetSecret("/hook", secret)
	if id == "" || !strings.HasPrefix(secret, "whsec_") || created["state"] != "ok" || res.header.Get("Location") != "/api/v1/alerts/"+id {
		t.Fatalf("created %v (Location %q)", created, res.header.Get("Location"))
	}
	got := h.do("GET", "/api/v1/alerts/"+id, admin, "", nil).json(t)
	if _, shown := got["webhook_secret"]; shown || got["window"] != "15m" || got["renotify"] != "1h" {
		t.Fatalf("read back %v", got)
	}
	other, _ := h.store.EnsureWorkspace(ctx, "globex")
	if res := h.do("GET", "/api/v1/alerts/"+id, h.key(other, usage.ScopeWorkspaceAdmin), "", nil); res.status != 404 {
		t.Fatalf("another workspace's admin reads the rule: %d", res.status)
	}

	// Calls of the Orders collection, sent to the ingest API: 100 fine,
	// then 20 failing.
	writer := h.key(h.ws, usage.ScopeEventsWrite)
	ingest := func(events []usage.Event) {
		t.Helper()
		if res := h.do("POST", "/api/v1/events", writer, "application/x-ndjson", strings.NewReader(ndjson(t, events))); res.status != 200 {
			t.Fatalf("ingest: %d %s", res.status, res.body)
		}
	}
	calls := func(prefix string, at time.Time, n, status int) []usage.Event {
		out := make([]usage.Event, n)
		for i := range out {
			out[i] = usage.Event{Kind: usage.KindAPIRequest, ID: fmt.Sprintf("%s-%d", prefix, i), Time: at.Add(time.Duration(i) * time.Second),
				Method: "GET", URL: "/orders", Status: status, Collection: "Orders", Client: "ERP"}
		}
		return out
	}
	ingest(calls("ok", T.Add(-10*time.Minute), 100, 200))
	clk.Set(T)
	runner := &alerts.Runner{Store: h.store, Summaries: &summary.Service{Rollups: h.store, Events: h.store},
		Sender: &alerts.Delivery{Client: loopback.Client(5 * time.Second), Retry: time.Millisecond}, BaseURL: "https://usagelog.example.com",
		Log: slog.New(slog.DiscardHandler), Now: clk.Now}
	if n, err := runner.RunDue(ctx); err != nil || n != 1 {
		t.Fatalf("run: %d rules, %v", n, err)
	}
	ingest(calls("bad", T.Add(-3*time.Minute), 20, 503))
	clk.Set(T.Add(time.Minute))
	if n, err := runner.RunDue(ctx); err != nil || n != 1 {
		t.Fatalf("run: %d rules, %v", n, err)
	}
	if n, _ := runner.RunDue(ctx); n != 0 {
		t.Fatalf("a rule measured twice in a minute: %d", n)
	}
	bodies, errs := rc.Received("/hook")
	if len(errs) > 0 || len(bodies) != 1 {
		t.Fatalf("webhook got %v, errors %v", bodies, errs)
	}
	if b := bodies[0]; b["event"] != "firing" || b["calls"] != 120.0 || !strings.Contains(b["link"].(string), "collection=Orders") ||
		!strings.Contains(b["text"].(string), "[FIRING] Orders API failing: error_rate 16.7%") {
		t.Fatalf("firing body %v", b)
	}
	got = h.do("GET", "/api/v1/alerts/"+id, admin, "", nil).json(t)
	if got["state"] != "firing" || got["last_calls"] != 120.0 {
		t.Fatalf("after firing: %v", got)
	}

	// Slack from now on; 20 minutes later the window holds no failure.
	slack := strings.Replace(rule, `"notify":{`, `"notify":{"format":"slack",`, 1)
	if res := h.do("PUT", "/api/v1/alerts/"+id, admin, "application/json", strings.NewReader(slack)); res.status != 200 || res.json(t)["state"] != "firing" {
		t.Fatalf("put: %d %s", res.status, res.body)
	}
	ingest(calls("later", T.Add(10*time.Minute), 50, 200))
	clk.Set(T.Add(20 * time.Minute))
	if _, err := runner.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	bodies, errs = rc.Received("/hook")
	if len(errs) > 0 || len(bodies) != 2 || !strings.HasPrefix(bodies[1]["text"].(string), "[RESOLVED] Orders API failing") || len(bodies[1]) != 1 {
		t.Fatalf("resolved: %v, errors %v", bodies, errs)
	}
	history := h.do("GET", "/api/v1/alerts/"+id+"/events", admin, "", nil).json(t)["items"].([]any)
	if len(history) != 2 || history[0].(map[string]any)["notice"] != "resolved" || history[1].(map[string]any)["notice"] != "firing" {
		t.Fatalf("history %v", history)
	}
	if res := h.do("GET", "/api/v1/alerts/"+id+"/events?limit=0", admin, "", nil); res.status != 400 {
		t.Errorf("limit=0: %d", res.status)
	}
	list := h.do("GET", "/api/v1/alerts", admin, "", nil).json(t)["items"].([]any)
	if len(list) != 1 {
		t.Fatalf("list %v", list)
	}
	if res := h.do("DELETE", "/api/v1/alerts/"+id, admin, "", nil); res.status != 204 {
		t.Fatalf("delete: %d %s", res.status, res.body)
	}
	if res := h.do("GET", "/api/v1/alerts/"+id, admin, "", nil); res.status != 404 {
		t.Fatalf("after delete: %d", res.status)
	}
}
