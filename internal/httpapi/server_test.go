package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/buildinfo"
	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/localfs"
	"github.com/usagelog/usagelog/internal/signedurl"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

type harness struct {
	t     testing.TB
	url   string
	store *sqlite.Store
	ws    usage.Workspace
	files *localfs.Dir
	api   *httpapi.Server
}

func newHarness(t testing.TB, maxBody int64, opts ...func(*httpapi.Config)) *harness {
	t.Helper()
	ctx := context.Background()
	st := sqlitetest.Open(t)
	ws, err := st.EnsureWorkspace(ctx, usage.DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	files, err := localfs.Open(filepath.Join(t.TempDir(), "exports"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	// The download links' base is the server's own URL, known once it
	// listens.
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	secret := []byte("test secret, at least 32 characters long")
	cfg := httpapi.Config{Events: st, Meta: st, Metrics: httpapi.NewMetrics(), MaxBodyBytes: maxBody,
		Files: files, Signer: signedurl.New(secret, base, 0), Secret: secret, Alerts: st, Erasures: st}
	for _, o := range opts {
		o(&cfg)
	}
	api, err := httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = api
	srv.Start()
	t.Cleanup(srv.Close)
	return &harness{t: t, url: srv.URL, store: st, ws: ws, files: files, api: api}
}

// key creates a key in workspace ws with the given scopes and returns its token.
func (h *harness) key(ws usage.Workspace, scopes ...usage.Scope) string {
	h.t.Helper()
	token, key, err := usage.NewKey(ws.ID, "test key", scopes, time.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.CreateKey(context.Background(), key); err != nil {
		h.t.Fatal(err)
	}
	return token
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, r.body)
	}
	return m
}

func (h *harness) do(method, path, token, contentType string, body io.Reader) response {
	h.t.Helper()
	return h.doWith(method, path, token, map[string]string{"Content-Type": contentType}, body)
}

// doWith is do with headers; an empty value sets none.
func (h *harness) doWith(method, path, token string, headers map[string]string, body io.Reader) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func ndjson(t testing.TB, events []usage.Event) string {
	var b strings.Builder
	for i := range events {
		line, err := ingest.MarshalJSON(&events[i])
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestIngest(t *testing.T) {
	h := newHarness(t, 0)
	token := h.key(h.ws, usage.ScopeEventsWrite, usage.ScopeLogsRead)
	good := `{"kind":"api_request","id":"r1","time":"2026-03-08T01:30:00-05:00","status":200,"url":"/a/rest/chat/x","user_agent":"Java/21.0.5"}`
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		accepted    float64
		duplicates  float64
		rejected    []string // "line: substring of the error"
	}{
		{"ndjson with bad lines", "application/x-ndjson", good + "\n" +
			`{"kind":"nope","id":"r2","time":"2026-03-08T00:00:00Z"}` + "\n\n" +
			`{"kind":"api_request","id":"r3","time":"2026-03-08 00:00","status":200}` + "\n" +
			`{"kind":"api_request","id":"r4","time":"2026-03-08T00:00:00Z"}` + "\n" +
			`{"kind":"api_request","id":"r5","time":"2026-03-08T00:00:00Z","status":"200"}` + "\n" +
			`{"kind":"activity","id":"r6","time":"2026-03-08T00:00:00Z"}` + "\n" +
			`{"kind":"sync","id":"r7","time":"2026-03-08T00:00:00Z","outcome":"maybe"}` + "\n" +
			`{"kind":"api_request","id":"r8","time":"2026-03-08T00:00:00Z","status":200,"colour":"red"}` + "\n" +
			`not json` + "\n" +
			`{"kind":"user_seen","id":"r9","time":"2026-03-08T00:00:00Z","system":"Jira","email":"a@b.c"}`,
			200, 2, 0, []string{
				`2: field "kind": unknown kind "nope"`,
				`4: field "time"`,
				`5: field "status": required`,
				`6: field "status": must be a whole number`,
				`7: field "user_id": required`,
				`8: field "outcome": unknown value "maybe"`,
				`9: unknown field "colour"`,
				`10: malformed JSON`,
			}},
		{"json array", "application/json", `[` + good + `, {"kind":"activity","id":"a1","time":"2026-03-08T00:00:00Z","user_id":"u1"}, 5]`,
			200, 1, 1, []string{`3: an event must be a JSON object`}},
		{"csv", "text/csv", "kind,id,time,status,url,user_agent,service_account\n" +
			"api_request,c1,2026-03-08T00:00:00Z,404,/a/rest/v1/x,ideascale-mcp-server/1.0.0,\n" +
			"api_request,c2,2026-03-08T00:00:00Z,abc,,,\n" +
			"user_seen,c3,2026-03-08T00:00:00Z,,,,maybe\n" +
			"api_request,c4,2026-03-08T00:00:00Z,200\n",
			200, 1, 0, []string{`2: field "status": must be a whole number`, `3: field "service_account"`, `4: row has 4 fields`}},
		{"all duplicates is fine", "application/x-ndjson", good, 200, 0, 1, nil},
		{"nothing valid", "application/x-ndjson", `{"kind":"api_request"}`, 400, 0, 0, []string{`1: field "id": required`}},
		{"empty body", "application/x-ndjson", "", 400, 0, 0, nil},
		{"far in the future", "application/x-ndjson", `{"kind":"api_request","id":"f1","time":"9999-01-01T00:00:00Z","status":200}`, 400, 0, 0, []string{`1: field "time": 9999-01-01T00:00:00.000Z is more than 24h0m0s ahead`}},
		{"unsupported type", "text/plain", good, 400, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", "/api/v1/events", token, tt.contentType, strings.NewReader(tt.body))
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			m := r.json(t)
			if tt.status == 200 {
				if m["accepted"] != tt.accepted || m["duplicates"] != tt.duplicates {
					t.Errorf("accepted %v duplicates %v, want %v %v: %s", m["accepted"], m["duplicates"], tt.accepted, tt.duplicates, r.body)
				}
			} else if _, ok := m["error"].(map[string]any); !ok {
				t.Errorf("error answer without error object: %s", r.body)
			}
			rejected, _ := m["rejected"].([]any)
			if len(rejected) != len(tt.rejected) {
				t.Fatalf("rejected %d lines, want %d: %s", len(rejected), len(tt.rejected), r.body)
			}
			for i, want := range tt.rejected {
				rj := rejected[i].(map[string]any)
				got := fmt.Sprintf("%v: %v", rj["line"], rj["error"])
				if !strings.HasPrefix(got, want) && !strings.Contains(got, want) {
					t.Errorf("rejected[%d] = %q, want it to contain %q", i, got, want)
				}
			}
		})
	}
	// What was accepted is stored, classified and readable.
	r := h.do("GET", "/api/v1/logs?collection_type=&tz=UTC", token, "", nil)
	if r.status != 200 {
		t.Fatalf("logs: %d %s", r.status, r.body)
	}
	items := r.json(t)["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("logs hold %d api requests, want 2 (r1 and c1): %s", len(items), r.body)
	}
	first := items[0].(map[string]any)
	if first["id"] != "r1" || first["client_class"] != "Slack" || first["time"] != "2026-03-08T06:30:00.000Z" {
		t.Errorf("newest item = %v", first)
	}
	second := items[1].(map[string]any)
	if second["id"] != "c1" || second["usage_type"] != "mcp" || second["type"] != "Error" || second["status_text"] != "Not Found" {
		t.Errorf("second item = %v", second)
	}
}

func TestIngestBodyLimit(t *testing.T) {
	h := newHarness(t, 64<<10)
	token := h.key(h.ws, usage.ScopeEventsWrite)
	events := storetest.Fixture(2000) // about 700 KB of NDJSON
	body := ndjson(t, events)

	// Declared length over the limit: refused before reading, nothing stored.
	r := h.do("POST", "/api/v1/events", token, "application/x-ndjson", strings.NewReader(body))
	if r.status != 413 || !strings.Contains(string(r.body), `"gateway_code":4131`) {
		t.Fatalf("status %d, want 413 with 4131: %s", r.status, r.body)
	}
	if n, _ := h.store.Count(context.Background(), h.ws.ID, usage.KindAPIRequest); n != 0 {
		t.Errorf("%d events stored from a refused body", n)
	}

	// Chunked body (no declared length) that grows over the limit: the
	// answer says how many were kept, and re-sending them is harmless.
	r = h.do("POST", "/api/v1/events", token, "application/x-ndjson", io.MultiReader(strings.NewReader(body)))
	if r.status != 413 {
		t.Fatalf("chunked: status %d, want 413: %s", r.status, r.body)
	}
	m := r.json(t)
	kept := int64(m["accepted"].(float64))
	n, _ := h.store.Count(context.Background(), h.ws.ID, usage.KindAPIRequest)
	if n != kept || !strings.Contains(string(r.body), "smaller batches") {
		t.Errorf("answer says %d kept, store holds %d: %s", kept, n, r.body)
	}
	small := ndjson(t, events[:150])
	r = h.do("POST", "/api/v1/events", token, "application/x-ndjson", strings.NewReader(small))
	if r.status != 200 {
		t.Fatalf("small batch: %d %s", r.status, r.body)
	}
	if m := r.json(t); m["accepted"].(float64)+m["duplicates"].(float64) != 150 {
		t.Errorf("small batch counts: %s", r.body)
	}
}

func TestAuthRefusals(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	reader := h.key(h.ws, usage.ScopeLogsRead)
	revokedToken, revokedKey, _ := usage.NewKey(h.ws.ID, "old", []usage.Scope{usage.ScopeLogsRead}, time.Now())
	if err := h.store.CreateKey(ctx, revokedKey); err != nil {
		t.Fatal(err)
	}
	if err := h.store.RevokeKey(ctx, h.ws.ID, revokedKey.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, token string
		status, gateway           int
		code, message             string
	}{
		{"missing token", "GET", "/api/v1/logs", "", 401, 4012, "missing_token", "Missing token"},
		{"unknown token", "GET", "/api/v1/logs", "ulk_not-a-real-token", 401, 4011, "unrecognized_token", "Unrecognized token"},
		{"revoked token", "GET", "/api/v1/logs", revokedToken, 401, 4013, "revoked_token", "Revoked token"},
		{"missing scope", "POST", "/api/v1/events", reader, 403, 4031, "missing_scope", "Missing scope EVENTS_WRITE"},
		{"unknown endpoint", "GET", "/api/v1/nothing-here", reader, 404, 4041, "endpoint_not_found", "Endpoint not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(tt.method, tt.path, tt.token, "application/x-ndjson", strings.NewReader(""))
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			e := r.json(t)["error"].(map[string]any)
			if e["code"] != tt.code || e["message"] != tt.message || e["gateway_code"] != float64(tt.gateway) {
				t.Errorf("error = %v, want %s %q %d", e, tt.code, tt.message, tt.gateway)
			}
		})
	}
}

func TestLogsPagesAndFilters(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	token := h.key(h.ws, usage.ScopeLogsRead)
	if _, err := h.store.Append(ctx, h.ws.ID, storetest.Fixture(300)); err != nil {
		t.Fatal(err)
	}
	other, _ := h.store.CreateWorkspace(ctx, "other")
	otherToken := h.key(other, usage.ScopeLogsRead)

	// Keyset pages cover every event exactly once, newest first.
	seen := map[string]bool{}
	var last string
	path := "/api/v1/logs?limit=70&status_class=2xx,4xx&status_class=5xx"
	for pages := 0; ; pages++ {
		r := h.do("GET", path, token, "", nil)
		if r.status != 200 {
			t.Fatalf("page %d: %d %s", pages, r.status, r.body)
		}
		var page struct {
			Items []httpapi.LogItem `json:"items"`
			Next  string            `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			if seen[it.ID] {
				t.Fatalf("%s seen twice", it.ID)
			}
			seen[it.ID] = true
			key := it.Time + it.ID
			if last != "" && key > last {
				t.Fatalf("not newest first: %s after %s", key, last)
			}
			last = key
		}
		if page.Next == "" {
			break
		}
		// Another workspace's key with this cursor sees nothing of ours.
		if pages == 0 {
			r := h.do("GET", "/api/v1/logs?cursor="+page.Next, otherToken, "", nil)
			if r.status != 200 || strings.Contains(string(r.body), "req-") {
				t.Errorf("other workspace with our cursor: %d %s", r.status, r.body)
			}
		}
		path = "/api/v1/logs?limit=70&status_class=2xx,4xx&status_class=5xx&cursor=" + url.QueryEscape(page.Next)
	}
	if len(seen) != 300 {
		t.Errorf("pages covered %d events, want 300", len(seen))
	}

	// Timezones change written times, never the rows selected.
	utc := h.do("GET", "/api/v1/logs?from=2026-03-08T06:00:00Z&to=2026-03-08T07:00:00Z&limit=1000", token, "", nil)
	ny := h.do("GET", "/api/v1/logs?from=2026-03-08T06:00:00Z&to=2026-03-08T07:00:00Z&limit=1000&tz=America/New_York", token, "", nil)
	ui, ni := utc.json(t)["items"].([]any), ny.json(t)["items"].([]any)
	if len(ui) != len(ni) || len(ui) != 62 {
		t.Fatalf("utc %d items, new york %d, want 62 each (minutes 0-60 and the tie at 60)", len(ui), len(ni))
	}
	if got := ni[len(ni)-1].(map[string]any)["time"]; got != "2026-03-08T01:00:00.000-05:00" {
		t.Errorf("oldest in New York = %v", got)
	}
	// A bare date is that day in tz: 2026-03-08 in New York starts at 05:00Z.
	r := h.do("GET", "/api/v1/logs?from=2026-03-08&to=2026-03-08&tz=America/New_York&limit=1000", token, "", nil)
	if n := len(r.json(t)["items"].([]any)); n != 300 {
		t.Errorf("bare-date day holds %d events, want 300", n)
	}

	bad := []struct{ query, names string }{
		{"tz=Mars/Olympus", `unknown timezone \"Mars/Olympus\"`},
		{"tz=../../etc/passwd", `unknown timezone`},
		{"status=99", `unknown status \"99\"`},
		{"status_class=6xx", `unknown status_class \"6xx\"`},
		{"collection_type=lambda", `unknown collection_type \"lambda\"`},
		{"usage_type=ai", `unknown usage_type \"ai\"`},
		{"period=2w", `unknown period \"2w\"`},
		{"from=yesterday", `from: invalid time \"yesterday\"`},
		{"from=2026-03-09&to=2026-03-08", `from must be before to`},
		{"limit=0", `invalid limit \"0\"`},
		{"cursor=bm90LWEtY3Vyc29y", `invalid cursor`},
		{"colour=red", `unknown parameter \"colour\"`},
	}
	for _, b := range bad {
		r := h.do("GET", "/api/v1/logs?"+b.query, token, "", nil)
		if r.status != 400 || !strings.Contains(string(r.body), b.names) {
			t.Errorf("%s: %d %.300s, want 400 naming %s", b.query, r.status, r.body, b.names)
		}
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	h := newHarness(t, 0)
	token := h.key(h.ws, usage.ScopeEventsWrite)
	h.do("POST", "/api/v1/events", token, "application/x-ndjson", strings.NewReader(ndjson(t, storetest.Fixture(3))+"{}\n"))
	for _, p := range []string{"/healthz", "/readyz", "/version"} {
		if r := h.do("GET", p, "", "", nil); r.status != 200 {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
	if v := h.do("GET", "/version", "", "", nil).json(t); v["version"] != buildinfo.Read().Version || v["go"] != runtime.Version() {
		t.Errorf("/version: %v", v)
	}
	if v := h.do("GET", "/healthz", "", "", nil).json(t); v["status"] != "ok" || v["version"] != buildinfo.Read().Version {
		t.Errorf("/healthz: %v", v)
	}
	r := h.do("GET", "/metrics", "", "", nil)
	for _, want := range []string{
		`usagelog_ingest_events_total{result="accepted"} 3`,
		`usagelog_ingest_events_total{result="rejected"} 1`,
		`usagelog_http_request_duration_seconds_count{code="200",method="POST",route="POST /api/v1/events"} 1`,
		`usagelog_store_operation_duration_seconds`,
	} {
		if want == `usagelog_store_operation_duration_seconds` {
			continue // the harness's store has no observer; the CLI test checks it
		}
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	h.store.Close()
	if r := h.do("GET", "/readyz", "", "", nil); r.status != 503 {
		t.Errorf("readyz with a closed store: %d %s", r.status, r.body)
	}
}

// TestWrongMethod: a path that exists answers another method with 405 and
// the methods it takes; a path that does not is still 404 4041.
func TestWrongMethod(t *testing.T) {
	h := newHarness(t, 0)
	reader := h.key(h.ws, usage.ScopeLogsRead)
	for _, c := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"DELETE", "/api/v1/logs", 405, "GET, HEAD"},
		{"PUT", "/api/v1/exports", 405, "GET, POST, HEAD"},
		{"POST", "/api/v1/exports/job_x", 405, "GET, DELETE, HEAD"},
		{"GET", "/api/v1/events", 405, "POST"},
		{"DELETE", "/api/v1/nothing", 404, ""},
	} {
		r := h.do(c.method, c.path, reader, "", nil)
		if r.status != c.status || r.header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want %d %q: %s", c.method, c.path, r.status, r.header.Get("Allow"), c.status, c.allow, r.body)
		}
	}
}
