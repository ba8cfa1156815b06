package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/usage"
)

func TestSelfLogging(t *testing.T) {
	var rec *httpapi.Recorder
	h := newHarness(t, 0, func(c *httpapi.Config) {
		var err error
		if rec, err = httpapi.NewRecorder(httpapi.RecorderConfig{Events: c.Events, SpoolDir: t.TempDir(), FlushEvery: 10 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		c.Recorder = rec
	})
	ctx := context.Background()
	acme, _ := h.store.CreateWorkspace(ctx, "acme")
	token, key, _ := usage.NewKey(acme.ID, "Reporting bot", []usage.Scope{usage.ScopeLogsRead}, time.Now())
	if err := h.store.CreateKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	revokedToken, revoked, _ := usage.NewKey(acme.ID, "old bot", []usage.Scope{usage.ScopeLogsRead}, time.Now())
	h.store.CreateKey(ctx, revoked)
	h.store.RevokeKey(ctx, acme.ID, revoked.ID, time.Now())

	calls := []struct{ method, path, token string }{
		{"GET", "/api/v1/logs?limit=1", token},     // acme: 200
		{"POST", "/api/v1/events", token},          // acme: 403 4031
		{"GET", "/api/v1/logs", revokedToken},      // acme: 401 4013 (the key names its workspace)
		{"GET", "/api/v1/logs", ""},                // default: 401 4012
		{"GET", "/api/v1/logs", "ulk_who-is-this"}, // default: 401 4011
		{"GET", "/api/v1/nothing", token},          // default: 404 4041 (no route, no auth)
		{"GET", "/healthz", ""},                    // not an API call: not logged
		{"GET", "/metrics", ""},                    // not logged either
	}
	for _, c := range calls {
		req := h.do(c.method, c.path, c.token, "application/x-ndjson", strings.NewReader(""))
		_ = req
	}
	rec.Close() // flushes

	logs := func(ws usage.Workspace) map[string]usage.Event {
		events, err := h.store.Logs(ctx, ws.ID, usage.LogQuery{Limit: 100, LogFilter: usage.LogFilter{Collections: []string{httpapi.SelfCollection}}})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]usage.Event{}
		for _, e := range events {
			out[e.Method+" "+e.URL+" "+e.StatusDetails] = e
		}
		return out
	}
	a := logs(acme)
	if len(a) != 3 {
		t.Fatalf("acme's API log holds %d calls, want 3: %+v", len(a), a)
	}
	ok := a["GET /api/v1/logs "]
	if ok.Status != 200 || ok.Client != "Reporting bot" || ok.Endpoint != "/api/v1/logs" || ok.CollectionType != "proxy" || ok.IP != "127.0.0.1" || ok.UserAgent == "" {
		t.Errorf("logged success = %+v", ok)
	}
	if e := a["POST /api/v1/events Missing scope EVENTS_WRITE"]; e.Status != 403 || e.GatewayCode != 4031 {
		t.Errorf("missing scope logged as %+v", e)
	}
	if e := a["GET /api/v1/logs Revoked token"]; e.Status != 401 || e.GatewayCode != 4013 {
		t.Errorf("revoked token logged as %+v", e)
	}
	d := logs(h.ws)
	want := map[string]int{"GET /api/v1/logs Missing token": 4012, "GET /api/v1/logs Unrecognized token": 4011, "GET /api/v1/nothing Endpoint not found": 4041}
	if len(d) != len(want) {
		t.Errorf("default's API log = %+v", d)
	}
	for k, gw := range want {
		if d[k].GatewayCode != gw {
			t.Errorf("%s: logged %+v, want gateway %d", k, d[k], gw)
		}
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, 0, func(c *httpapi.Config) { c.RateLimits = httpapi.RateLimits{Reads: 3} })
	token := h.key(h.ws, usage.ScopeLogsRead)
	other := h.key(h.ws, usage.ScopeLogsRead)
	for i := 0; i < 3; i++ {
		r := h.do("GET", "/api/v1/logs", token, "", nil)
		if r.status != 200 || r.header.Get("X-RateLimit-Limit") != "3" || r.header.Get("X-RateLimit-Remaining") != string(rune('2'-i)) {
			t.Fatalf("call %d: %d limit %q remaining %q", i, r.status, r.header.Get("X-RateLimit-Limit"), r.header.Get("X-RateLimit-Remaining"))
		}
	}
	r := h.do("GET", "/api/v1/logs", token, "", nil)
	e, _ := r.json(t)["error"].(map[string]any)
	if r.status != 429 || r.header.Get("Retry-After") != "20" || e["gateway_code"] != float64(4291) || e["message"] != "Rate limit exceeded" {
		t.Errorf("over the limit: %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	if r := h.do("GET", "/api/v1/logs", other, "", nil); r.status != 200 {
		t.Errorf("another key is limited too: %d", r.status)
	}
}

func TestKeysAPI(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	admin := h.key(h.ws, usage.ScopeWorkspaceAdmin)
	other, _ := h.store.CreateWorkspace(ctx, "other")
	otherAdmin := h.key(other, usage.ScopeWorkspaceAdmin)

	r := h.do("POST", "/api/v1/keys", admin, "application/json", strings.NewReader(`{"name":"exporter","scopes":["LOGS_READ","USAGE_EXPORT_API"]}`))
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	created := r.json(t)
	token := created["token"].(string)
	id := created["key"].(map[string]any)["id"].(string)
	if !strings.HasPrefix(token, usage.TokenPrefix) || len(token) < 40 {
		t.Errorf("token %q", token)
	}
	if r := h.do("GET", "/api/v1/logs", token, "", nil); r.status != 200 {
		t.Errorf("new key cannot read: %d", r.status)
	}
	r = h.do("GET", "/api/v1/keys", admin, "", nil)
	if r.status != 200 || strings.Contains(string(r.body), token) || strings.Contains(string(r.body), usage.HashToken(token)) || !strings.Contains(string(r.body), `"exporter"`) {
		t.Errorf("list: %d %s", r.status, r.body)
	}
	// Another workspace can neither see nor revoke it.
	if r := h.do("GET", "/api/v1/keys", otherAdmin, "", nil); strings.Contains(string(r.body), id) {
		t.Errorf("other workspace lists our key: %s", r.body)
	}
	if r := h.do("DELETE", "/api/v1/keys/"+id, otherAdmin, "", nil); r.status != 404 {
		t.Errorf("other workspace revoking our key: %d %s", r.status, r.body)
	}
	if r := h.do("DELETE", "/api/v1/keys/"+id, admin, "", nil); r.status != 204 {
		t.Errorf("revoke: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/api/v1/logs", token, "", nil); r.status != 401 || !strings.Contains(string(r.body), "4013") {
		t.Errorf("revoked key: %d %s", r.status, r.body)
	}
	for body, want := range map[string]string{
		`{"name":"x","scopes":["ROOT"]}`:                   `unknown scope \"ROOT\"`,
		`{"name":"","scopes":["LOGS_READ"]}`:               "key name is required",
		`{"name":"x","scopes":[]}`:                         "at least one scope",
		`{"name":"x","scopes":["LOGS_READ"],"admin":true}`: `unknown field \"admin\"`,
		`[]`: "must not be array",
	} {
		if r := h.do("POST", "/api/v1/keys", admin, "application/json", strings.NewReader(body)); r.status != 400 || !strings.Contains(string(r.body), want) {
			t.Errorf("%s: %d %s, want 400 with %s", body, r.status, r.body, want)
		}
	}
	if r := h.do("GET", "/api/v1/keys", token, "", nil); r.status != 401 {
		t.Errorf("revoked non-admin key listing keys: %d", r.status)
	}
}

func TestSettingsAPI(t *testing.T) {
	h := newHarness(t, 0)
	admin := h.key(h.ws, usage.ScopeWorkspaceAdmin)
	reader := h.key(h.ws, usage.ScopeLogsRead)
	r := h.do("GET", "/api/v1/workspace/settings", admin, "", nil)
	if r.status != 200 || string(r.body) != `{"privacy":{"anonymize_users":false,"anonymize_ips":false},"timezone":"UTC","export_row_limit":0,"retention_days":0}`+"\n" {
		t.Fatalf("defaults: %d %s", r.status, r.body)
	}
	r = h.do("PATCH", "/api/v1/workspace/settings", admin, "application/json", strings.NewReader(`{"privacy":{"anonymize_ips":true},"timezone":"America/New_York"}`))
	if r.status != 200 || string(r.body) != `{"privacy":{"anonymize_users":false,"anonymize_ips":true},"timezone":"America/New_York","export_row_limit":0,"retention_days":0}`+"\n" {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	r = h.do("PATCH", "/api/v1/workspace/settings", admin, "application/json", strings.NewReader(`{"export_row_limit":50000}`))
	if r.status != 200 || !strings.Contains(string(r.body), `"anonymize_ips":true},"timezone":"America/New_York","export_row_limit":50000`) {
		t.Fatalf("second patch changed other fields: %s", r.body)
	}
	for body, want := range map[string]string{
		`{"timezone":"Moon/Base"}`:              `timezone: unknown timezone \"Moon/Base\"`,
		`{"export_row_limit":-1}`:               "export_row_limit: -1 is out of range",
		`{"retention_days":3651}`:               "retention_days: 3651 is out of range",
		`{"privacy":{"anonymize_users":"yes"}}`: `field \"privacy.anonymize_users\"`,
		`{"retention":7}`:                       `unknown field \"retention\"`,
		``:                                      "must be a JSON object",
	} {
		if r := h.do("PATCH", "/api/v1/workspace/settings", admin, "application/json", strings.NewReader(body)); r.status != 400 || !strings.Contains(string(r.body), want) {
			t.Errorf("%q: %d %s, want 400 with %s", body, r.status, r.body, want)
		}
	}
	if r := h.do("PATCH", "/api/v1/workspace/settings", admin, "application/json", strings.NewReader(`{"retention_days":30}`)); r.status != 200 || !strings.Contains(string(r.body), `"retention_days":30`) {
		t.Errorf("retention: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/api/v1/workspace/settings", admin, "", nil); !strings.Contains(string(r.body), `"export_row_limit":50000`) {
		t.Errorf("a refused patch changed the settings: %s", r.body)
	}
	if r := h.do("PATCH", "/api/v1/workspace/settings", reader, "application/json", strings.NewReader(`{}`)); r.status != 403 || !strings.Contains(string(r.body), "Missing scope WORKSPACE_ADMIN") {
		t.Errorf("reader patching settings: %d %s", r.status, r.body)
	}
}

// TestSelfLoggingBounds: the console's own calls (a member's session) are
// not recorded; calls without a valid token are recorded at most 60 a
// minute per address, the rest counted as dropped; views leave
// usagelog's own calls out unless asked for.
func TestSelfLoggingBounds(t *testing.T) {
	var rec *httpapi.Recorder
	reg := prometheus.NewRegistry()
	h := newHarness(t, 0, func(c *httpapi.Config) {
		var err error
		if rec, err = httpapi.NewRecorder(httpapi.RecorderConfig{Events: c.Events, SpoolDir: t.TempDir(), FlushEvery: 10 * time.Millisecond, Registry: reg}); err != nil {
			t.Fatal(err)
		}
		c.Recorder = rec
		c.Session = func(r *http.Request) (usage.SignedIn, bool) {
			if ck, err := r.Cookie("session"); err == nil && ck.Value == "ann" {
				return usage.SignedIn{Workspace: usage.Workspace{ID: 1, Name: usage.DefaultWorkspace}, Member: usage.Member{ID: "m1", Email: "ann@acme.example", Role: usage.RoleAdmin}}, true
			}
			return usage.SignedIn{}, false
		}
	})
	ctx := context.Background()
	token := h.key(h.ws, usage.ScopeLogsRead)
	for range 3 {
		req, _ := http.NewRequest("GET", h.url+"/api/v1/logs", nil)
		req.AddCookie(&http.Cookie{Name: "session", Value: "ann"})
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("session call: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	for range 100 {
		h.do("GET", "/api/v1/logs", "", "", nil) // no token: 401
	}
	h.do("GET", "/api/v1/logs", token, "", nil)
	rec.Close()

	self, err := h.store.Logs(ctx, h.ws.ID, usage.LogQuery{Limit: 1000, LogFilter: usage.LogFilter{Collections: []string{usage.SelfCollection}}})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]int{}
	for _, e := range self {
		by[e.Client+" "+strconv.Itoa(e.Status)]++
	}
	if by[" 401"] != httpapi.UnattributedPerMinute || by["ann@acme.example 200"] != 0 || len(self) != httpapi.UnattributedPerMinute+1 {
		t.Errorf("recorded %v, want %d unattributed, the key's call, none of the session's", by, httpapi.UnattributedPerMinute)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader("# HELP usagelog_selflog_dropped_total usagelog API calls not recorded: the recording buffer was full, or an address or every address together sent more calls without a valid token than are recorded a minute.\n# TYPE usagelog_selflog_dropped_total counter\nusagelog_selflog_dropped_total 40\n"), "usagelog_selflog_dropped_total"); err != nil {
		t.Error(err)
	}
	// The log without a collection filter leaves them all out.
	if all, _ := h.store.Logs(ctx, h.ws.ID, usage.LogQuery{Limit: 1000}); len(all) != 0 {
		t.Errorf("the unfiltered log holds %d of usagelog's own calls", len(all))
	}
	r := h.do("GET", "/api/v1/logs?collection=usagelog+API&limit=5", token, "", nil)
	if items := r.json(t)["items"].([]any); len(items) != 5 {
		t.Errorf("asked for usagelog API: %d items", len(items))
	}
}
