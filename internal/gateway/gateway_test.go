package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usagelog/usagelog/capture"
	"github.com/usagelog/usagelog/internal/gateway"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/usage"
)

type fixture struct {
	store    *sqlite.Store
	ws       usage.Workspace
	col      usage.Collection
	rec      *capture.Recorder
	gw       *gateway.Gateway
	url      string
	token    string
	revoked  string
	upstream *httptest.Server
	seen     chan http.Header // headers the upstream received
	// clock is the rate limits' time: advance moves it on.
	clockMu sync.Mutex
	clock   time.Time
}

func (f *fixture) now() time.Time { f.clockMu.Lock(); defer f.clockMu.Unlock(); return f.clock }

func (f *fixture) advance(d time.Duration) {
	f.clockMu.Lock()
	defer f.clockMu.Unlock()
	f.clock = f.clock.Add(d)
}

func newFixture(t *testing.T, ratePerMinute int, opts ...func(*gateway.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	st := sqlitetest.Open(t)
	ws, _ := st.EnsureWorkspace(ctx, usage.DefaultWorkspace)
	now := time.Now()
	col, err := usage.NewCollection(ws.ID, usage.Collection{Name: "Orders <API>", Type: usage.CollectionRecipe, Community: "Shop",
		Endpoints: []string{"GET /orders/{id}", "POST /orders", "/files/{path...}"}, Active: true}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateCollection(ctx, col); err != nil {
		t.Fatal(err)
	}
	token, cl, _ := usage.NewClient(col, "Mobile =app", now)
	if err := st.CreateClient(ctx, cl); err != nil {
		t.Fatal(err)
	}
	revoked, old, _ := usage.NewClient(col, "Old app", now)
	st.CreateClient(ctx, old)
	st.RevokeClient(ctx, ws.ID, old.ID, now)

	f := &fixture{store: st, ws: ws, col: col, token: token, revoked: revoked, seen: make(chan http.Header, 100), clock: now}
	f.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.seen <- r.Header.Clone()
		if strings.HasSuffix(r.URL.Path, "/503") {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "upstream "+r.Method+" "+r.URL.RequestURI())
	}))
	t.Cleanup(f.upstream.Close)
	f.rec, err = capture.New(capture.Config{Sink: gateway.StoreSink(st, ws.ID, nil), SpoolDir: t.TempDir(), FlushEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	up, _ := url.Parse(f.upstream.URL)
	proxies, _ := capture.ParseTrustedProxies([]string{"127.0.0.0/8"})
	cfg := gateway.Config{Upstream: up, Directory: gateway.StoreDirectory{Meta: st, WorkspaceID: ws.ID, Collection: col.Name},
		Recorder: f.rec, TrustedProxies: proxies, RatePerMinute: ratePerMinute, Refresh: 20 * time.Millisecond, LimitClock: f.now}
	for _, o := range opts {
		o(&cfg)
	}
	f.gw, err = gateway.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go f.gw.Run(runCtx)
	srv := httptest.NewServer(f.gw)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

type answer struct {
	status int
	body   string
	header http.Header
}

func (f *fixture) call(t *testing.T, method, path string, header ...string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: string(body), header: resp.Header}
}

// recorded closes the recorder and returns the stored events by URL.
func (f *fixture) recorded(t *testing.T) map[string][]usage.Event {
	t.Helper()
	if err := f.rec.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs, err := f.store.Logs(context.Background(), f.ws.ID, usage.LogQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]usage.Event{}
	for _, e := range evs {
		out[e.Method+" "+e.URL] = append(out[e.Method+" "+e.URL], e)
	}
	return out
}

func TestGatewayForwardsAndRecords(t *testing.T) {
	f := newFixture(t, 0)
	bearer := "Bearer " + f.token

	a := f.call(t, "GET", "/orders/42?expand=items", "Authorization", bearer, "User-Agent", "PostmanRuntime/7.43.3", "X-Forwarded-For", "198.51.100.7")
	if a.status != 200 || a.body != "upstream GET /orders/42?expand=items" {
		t.Fatalf("forwarded call = %d %q", a.status, a.body)
	}
	h := <-f.seen
	if h.Get("Authorization") != "" || h.Get("Api-Token") != "" {
		t.Errorf("the client's token reached the upstream: %v", h)
	}
	if h.Get("X-Forwarded-For") != "198.51.100.7" {
		t.Errorf("upstream X-Forwarded-For = %q", h.Get("X-Forwarded-For"))
	}
	if a := f.call(t, "POST", "/orders", "Api-Token", f.token); a.status != 200 {
		t.Errorf("api-token header: %d %s", a.status, a.body)
	}
	<-f.seen
	if a := f.call(t, "GET", "/files/a/b/c.txt", "Authorization", bearer); a.status != 200 {
		t.Errorf("rest wildcard: %d %s", a.status, a.body)
	}
	<-f.seen
	if a := f.call(t, "GET", "/orders/503", "Authorization", bearer); a.status != 503 {
		t.Errorf("upstream 503 came back as %d", a.status)
	}
	<-f.seen

	// The caller reads the status and its standard text only; the
	// gateway code and details go to the log (checked below).
	refusals := []struct {
		name, method, path string
		header             []string
		body               string
	}{
		{"missing token", "GET", "/orders/1", nil, `{"error":{"status":401,"message":"Unauthorized"}}`},
		{"basic auth is no token", "GET", "/orders/2", []string{"Authorization", "Basic eDp5"}, `{"error":{"status":401,"message":"Unauthorized"}}`},
		{"unknown token", "GET", "/orders/3", []string{"Authorization", "Bearer ulc_nope"}, `{"error":{"status":401,"message":"Unauthorized"}}`},
		{"revoked token", "GET", "/orders/4", []string{"Authorization", "Bearer " + f.revoked}, `{"error":{"status":401,"message":"Unauthorized"}}`},
		{"undeclared endpoint", "DELETE", "/orders/5", []string{"Authorization", bearer}, `{"error":{"status":404,"message":"Not Found"}}`},
		{"undeclared path", "GET", "/admin", []string{"Authorization", bearer}, `{"error":{"status":404,"message":"Not Found"}}`},
	}
	for _, tt := range refusals {
		a := f.call(t, tt.method, tt.path, tt.header...)
		if strings.TrimSpace(a.body) != tt.body {
			t.Errorf("%s: %d %s, want %s", tt.name, a.status, a.body, tt.body)
		}
	}
	select {
	case h := <-f.seen:
		t.Fatalf("a refused call reached the upstream: %v", h)
	default:
	}

	// Deactivating the collection takes effect at the next refresh.
	f.col.Active = false
	if err := f.store.UpdateCollection(context.Background(), f.col); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var inactive answer
	for {
		inactive = f.call(t, "GET", "/orders/6", "Authorization", bearer)
		if inactive.status == 404 || time.Now().After(deadline) {
			break
		}
		<-f.seen
		time.Sleep(10 * time.Millisecond)
	}
	if inactive.status != 404 || strings.TrimSpace(inactive.body) != `{"error":{"status":404,"message":"Not Found"}}` {
		t.Errorf("inactive collection: %d %s", inactive.status, inactive.body)
	}

	got := f.recorded(t)
	check := func(key string, status, gw int, client, endpoint, details string) {
		t.Helper()
		evs := got[key]
		if len(evs) == 0 {
			t.Errorf("%s: not recorded", key)
			return
		}
		e := evs[0] // newest first
		if e.Status != status || e.GatewayCode != gw || e.Client != client || e.Endpoint != endpoint || e.StatusDetails != details ||
			e.Collection != "Orders <API>" || e.CollectionType != "recipe" || e.Community != "Shop" {
			t.Errorf("%s recorded as status %d gw %d client %q endpoint %q details %q collection %q/%q/%q", key, e.Status, e.GatewayCode, e.Client, e.Endpoint, e.StatusDetails, e.Collection, e.CollectionType, e.Community)
		}
	}
	check("GET /orders/42", 200, 0, "Mobile =app", "/orders/{id}", "")
	check("POST /orders", 200, 0, "Mobile =app", "/orders", "")
	check("GET /files/a/b/c.txt", 200, 0, "Mobile =app", "/files/{path...}", "")
	check("GET /orders/503", 503, 0, "Mobile =app", "/orders/{id}", "")
	// A refused call on a declared endpoint records its pattern.
	check("GET /orders/1", 401, 4012, "", "/orders/{id}", "Missing token")
	check("GET /orders/3", 401, 4011, "", "/orders/{id}", "Unrecognized token")
	check("GET /orders/4", 401, 4013, "Old app", "/orders/{id}", "Revoked token")
	check("DELETE /orders/5", 404, 4041, "Mobile =app", "/orders/5", "Endpoint not found")
	check("GET /orders/6", 404, 4042, "Mobile =app", "/orders/{id}", "Recipe is inactive")
	e := got["GET /orders/42"][0]
	if class, _ := usage.Classify(e.URL, e.UserAgent); e.IP != "198.51.100.7" || e.UserAgent != "PostmanRuntime/7.43.3" || e.ClientClass != class {
		t.Errorf("GET /orders/42: ip %q ua %q class %q", e.IP, e.UserAgent, e.ClientClass)
	}
}

func TestGatewayRateLimitAndUpstreamDown(t *testing.T) {
	f := newFixture(t, 60) // a burst of 6, then one a second
	bearer := "Bearer " + f.token
	var limited answer
	for i := range 20 {
		a := f.call(t, "GET", "/orders/"+string(rune('a'+i)), "Authorization", bearer)
		if a.status == 429 {
			limited = a
			break
		}
		<-f.seen
	}
	if limited.status != 429 || strings.TrimSpace(limited.body) != `{"error":{"status":429,"message":"Too Many Requests"}}` || limited.header.Get("Retry-After") != "1" {
		t.Fatalf("rate limit: %d %s Retry-After %q", limited.status, limited.body, limited.header.Get("Retry-After"))
	}
	f.upstream.Close()
	f.advance(1100 * time.Millisecond) // a token again
	if a := f.call(t, "GET", "/orders/down", "Authorization", bearer); a.status != 502 {
		t.Errorf("upstream down: %d %s", a.status, a.body)
	}
	got := f.recorded(t)
	if e := got["GET /orders/down"]; len(e) != 1 || e[0].Status != 502 || e[0].StatusDetails != "Upstream unavailable" {
		t.Errorf("upstream down recorded as %+v", e)
	}
	n := 0
	for _, evs := range got {
		for _, e := range evs {
			if e.GatewayCode == 4291 {
				n++
			}
		}
	}
	if n != 1 {
		t.Errorf("%d rate-limited calls recorded, want 1", n)
	}
}

// TestGatewayRecordsMemberAndJob: the headers the gateway is told to read
// are recorded as the call's member and job (and still forwarded), in the
// store as ingest keeps them; a call without them records none.
func TestGatewayRecordsMemberAndJob(t *testing.T) {
	f := newFixture(t, 0, func(c *gateway.Config) {
		c.MemberIDHeader, c.MemberNameHeader, c.JobHeader = "X-Member-Id", "X-Member-Name", "X-Job"
	})
	bearer := "Bearer " + f.token
	a := f.call(t, "GET", "/orders/77", "Authorization", bearer, "X-Member-Id", "m-9", "X-Member-Name", "=Ann Admin", "X-Job", "https://jobs.example.com/run/5")
	if a.status != 200 {
		t.Fatalf("call: %d %s", a.status, a.body)
	}
	if h := <-f.seen; h.Get("X-Member-Name") != "=Ann Admin" || h.Get("X-Job") == "" {
		t.Errorf("the headers were not forwarded: %v", h)
	}
	f.call(t, "GET", "/orders/78", "Authorization", bearer)
	<-f.seen
	got := f.recorded(t)
	if e := got["GET /orders/77"]; len(e) != 1 || e[0].MemberID != "m-9" || e[0].MemberName != "=Ann Admin" || e[0].JobURL != "https://jobs.example.com/run/5" {
		t.Errorf("recorded %+v", e)
	}
	if e := got["GET /orders/78"]; len(e) != 1 || e[0].MemberID != "" || e[0].MemberName != "" || e[0].JobURL != "" {
		t.Errorf("a call without the headers recorded %+v", e)
	}
}
