package console_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/audit"
	"github.com/usagelog/usagelog/internal/buildinfo"
	"github.com/usagelog/usagelog/internal/console"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/usage"
)

func init() { usage.PasswordCost = 4 } // bcrypt's minimum: tests need not be slow

type site struct {
	t     *testing.T
	url   string
	store *sqlite.Store
	now   time.Time
}

func newSite(t *testing.T) *site {
	t.Helper()
	st := sqlitetest.Open(t)
	s := &site{t: t, store: st, now: time.Now()}
	c, err := console.New(console.Config{Meta: st, Events: st, Now: func() time.Time { return s.now }, SessionTTL: time.Hour, MaxFailures: 3, FailureWindow: 10 * time.Minute, Alerts: st, Erasures: st, Secret: []byte("console test secret, 32 characters or more")})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *site) member(ws, email string, role usage.Role) {
	s.t.Helper()
	ctx := context.Background()
	w, err := s.store.EnsureWorkspace(ctx, ws)
	if err != nil {
		s.t.Fatal(err)
	}
	hash, err := usage.HashPassword("correct horse battery")
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.store.CreateMember(ctx, usage.Member{ID: usage.RandomID("mem_", 6), WorkspaceID: w.ID, Email: email, PasswordHash: hash, Role: role, CreatedAt: time.Now()}); err != nil {
		s.t.Fatal(err)
	}
}

// browser is a client with cookies that does not follow redirects.
func (s *site) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (s *site) get(c *http.Client, path string) page {
	s.t.Helper()
	resp, err := c.Get(s.url + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, resp.Header, string(b)}
}

func (s *site) post(c *http.Client, path string, form url.Values) page {
	s.t.Helper()
	resp, err := c.PostForm(s.url+path, form)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, resp.Header, string(b)}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrf(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field in %s", body)
	}
	return m[1]
}

// signIn signs in and returns the browser and the session's CSRF token.
func (s *site) signIn(email string) (*http.Client, string) {
	s.t.Helper()
	b := s.browser()
	form := url.Values{"email": {email}, "password": {"correct horse battery"}, "csrf": {csrf(s.t, s.get(b, "/login").body)}}
	p := s.post(b, "/login", form)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/" {
		s.t.Fatalf("sign in as %s: %d %s", email, p.status, p.body)
	}
	home := s.get(b, "/")
	if home.status != 200 {
		s.t.Fatalf("home after sign-in: %d", home.status)
	}
	if !strings.Contains(home.body, `<footer class="build"><a href="/version">usagelog `+buildinfo.Read().Version+`</a></footer>`) {
		s.t.Errorf("no build in the footer")
	}
	return b, csrf(s.t, home.body)
}

func TestSignInSessionAndRoles(t *testing.T) {
	s := newSite(t)
	s.member("acme", "admin@acme.example", usage.RoleAdmin)
	s.member("acme", "analyst@acme.example", usage.RoleAnalyst)
	s.member("globex", "boss@globex.example", usage.RoleAdmin)

	// Not signed in: pages send you to sign in.
	anon := s.browser()
	if p := s.get(anon, "/settings"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/login") {
		t.Errorf("anonymous /settings: %d %s", p.status, p.header.Get("Location"))
	}

	// A sign-in form without its CSRF token is refused.
	if p := s.post(anon, "/login", url.Values{"email": {"admin@acme.example"}, "password": {"correct horse battery"}}); p.status != http.StatusForbidden {
		t.Errorf("login without CSRF: %d", p.status)
	}

	// The session cookie is HttpOnly, SameSite and expires.
	b := s.browser()
	form := url.Values{"email": {"Admin@Acme.example "}, "password": {"correct horse battery"}, "csrf": {csrf(t, s.get(b, "/login").body)}}
	p := s.post(b, "/login", form)
	cookie := p.header.Get("Set-Cookie")
	if p.status != http.StatusSeeOther || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Lax") || !strings.Contains(cookie, "Max-Age=3600") {
		t.Fatalf("sign in: %d cookie %q", p.status, cookie)
	}
	home := s.get(b, "/")
	if !strings.Contains(home.body, "acme") || strings.Contains(home.body, "globex") || !strings.Contains(home.body, `href="/settings"`) {
		t.Errorf("admin home: %s", home.body)
	}

	// The analyst sees no settings link and cannot open or post the page.
	a, aCSRF := s.signIn("analyst@acme.example")
	if p := s.get(a, "/"); strings.Contains(p.body, `href="/settings"`) {
		t.Error("analyst sees the settings link")
	}
	if p := s.get(a, "/settings"); p.status != http.StatusForbidden {
		t.Errorf("analyst GET /settings: %d", p.status)
	}
	if p := s.post(a, "/settings", url.Values{"csrf": {aCSRF}, "timezone": {"UTC"}}); p.status != http.StatusForbidden {
		t.Errorf("analyst POST /settings: %d", p.status)
	}

	// Admin settings: a post without the session's CSRF token is refused;
	// with it, saved for this workspace only.
	adminCSRF := csrf(t, home.body)
	if p := s.post(b, "/settings", url.Values{"timezone": {"Europe/Berlin"}, "anonymize_ips": {"on"}}); p.status != http.StatusForbidden {
		t.Errorf("settings without CSRF: %d", p.status)
	}
	if p := s.post(b, "/settings", url.Values{"csrf": {adminCSRF}, "timezone": {"Nowhere/City"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "Nowhere/City") {
		t.Errorf("bad timezone: %d", p.status)
	}
	if p := s.post(b, "/settings", url.Values{"csrf": {adminCSRF}, "timezone": {"Europe/Berlin"}, "anonymize_ips": {"on"}, "export_row_limit": {"5000"}}); p.status != http.StatusSeeOther {
		t.Errorf("save settings: %d %s", p.status, p.body)
	}
	acme, _ := s.store.WorkspaceByName(context.Background(), "acme")
	globex, _ := s.store.WorkspaceByName(context.Background(), "globex")
	if st, _ := s.store.Settings(context.Background(), acme.ID); st != (usage.Settings{AnonymizeIPs: true, Timezone: "Europe/Berlin", ExportRowLimit: 5000}) {
		t.Errorf("acme settings = %+v", st)
	}
	if st, _ := s.store.Settings(context.Background(), globex.ID); st != usage.DefaultSettings() {
		t.Errorf("globex settings changed: %+v", st)
	}

	// Another workspace's member sees their own workspace only.
	g, _ := s.signIn("boss@globex.example")
	if p := s.get(g, "/settings"); !strings.Contains(p.body, `value="UTC"`) || strings.Contains(p.body, "Europe/Berlin") {
		t.Errorf("globex settings page shows acme's: %s", p.body)
	}

	// Sign out ends the session for good; a copied cookie is useless after.
	if p := s.post(b, "/logout", url.Values{"csrf": {adminCSRF}}); p.status != http.StatusSeeOther {
		t.Errorf("logout: %d", p.status)
	}
	if p := s.get(b, "/"); p.status != http.StatusSeeOther {
		t.Errorf("home after logout: %d", p.status)
	}

	// Sessions expire.
	s.now = s.now.Add(2 * time.Hour)
	if p := s.get(a, "/"); p.status != http.StatusSeeOther {
		t.Errorf("home after expiry: %d", p.status)
	}
}

func TestSignInThrottle(t *testing.T) {
	s := newSite(t)
	s.member("acme", "ann@acme.example", usage.RoleAdmin)
	b := s.browser()
	try := func(pw string) page {
		return s.post(b, "/login", url.Values{"email": {"ann@acme.example"}, "password": {pw}, "csrf": {csrf(t, s.get(b, "/login").body)}})
	}
	for i := 0; i < 3; i++ {
		if p := try("wrong password!"); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Wrong email or password") {
			t.Fatalf("failure %d: %d", i, p.status)
		}
	}
	// Locked now, even with the right password.
	p := try("correct horse battery")
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
		t.Fatalf("after 3 failures: %d", p.status)
	}
	// The window passes.
	s.now = s.now.Add(11 * time.Minute)
	if p := try("correct horse battery"); p.status != http.StatusSeeOther {
		t.Errorf("after the window: %d %s", p.status, p.body)
	}
	// An unknown email fails like a wrong password.
	if p := s.post(s.browser(), "/login", url.Values{"email": {"ghost@acme.example"}, "password": {"whatever"}, "csrf": {"x"}}); p.status != http.StatusForbidden {
		t.Errorf("csrf first: %d", p.status)
	}
}

func TestHostileInputIsEscaped(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	p := s.post(b, "/login", url.Values{"email": {`"><script>alert(1)</script>`}, "password": {"x"}, "csrf": {csrf(t, s.get(b, "/login").body)}})
	if strings.Contains(p.body, "<script>alert(1)") {
		t.Error("email echoed unescaped")
	}
	if p := s.get(b, "/login?next=//evil.example/"); !strings.Contains(p.body, `name="next" value="/"`) {
		t.Error("an off-site next survived")
	}
	if p.header.Get("Content-Security-Policy") == "" {
		t.Error("no CSP header")
	}
}

// TestSignInThrottleParallel sends 30 wrong passwords at once: the check
// and the count are one step, so no more than the allowed 3 are tried.
func TestSignInThrottleParallel(t *testing.T) {
	s := newSite(t)
	s.member("acme", "ann@acme.example", usage.RoleAdmin)
	b := s.browser()
	token := csrf(t, s.get(b, "/login").body)
	u, _ := url.Parse(s.url + "/login")
	cookies := b.Jar.Cookies(u)
	statuses := make(chan int, 30)
	var wg sync.WaitGroup
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", s.url+"/login", strings.NewReader(url.Values{"email": {"ann@acme.example"}, "password": {"wrong password!"}, "csrf": {token}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for _, c := range cookies {
				req.AddCookie(c)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for st := range statuses {
		counts[st]++
	}
	if counts[http.StatusUnauthorized] != 3 || counts[http.StatusTooManyRequests] != 27 {
		t.Errorf("30 parallel wrong passwords: %v, want 3 tried (401) and 27 refused (429)", counts)
	}
}

// TestSignInRedirectStaysOnSite signs in with hostile "next" values: the
// redirect stays on this site, as a browser reads the Location.
func TestSignInRedirectStaysOnSite(t *testing.T) {
	s := newSite(t)
	s.member("acme", "ann@acme.example", usage.RoleAdmin)
	for next, want := range map[string]string{
		"/\t/evil.example":           "/",
		"/\n/evil.example":           "/",
		"/\\evil.example":            "/",
		"//evil.example":             "/",
		"https://evil.example/":      "/",
		"/%09/evil.example":          "/%09/evil.example",
		"javascript:alert(1)":        "/",
		"/logs?status=404&period=7d": "/logs?status=404&period=7d",
	} {
		b := s.browser()
		p := s.post(b, "/login", url.Values{"email": {"ann@acme.example"}, "password": {"correct horse battery"}, "csrf": {csrf(t, s.get(b, "/login").body)}, "next": {next}})
		if p.status != http.StatusSeeOther || p.header.Get("Location") != want {
			t.Errorf("next %q: %d Location %q, want %q", next, p.status, p.header.Get("Location"), want)
		}
	}
}

// TestLogsPageFilters: the logs page offers the statuses that occur, the
// clients and the collections as choices, several at once; usagelog's own
// calls show only when their collection is picked.
func TestLogsPageFilters(t *testing.T) {
	s := newSite(t)
	s.member("acme", "ann@acme.example", usage.RoleAdmin)
	ctx := context.Background()
	ws, _ := s.store.WorkspaceByName(ctx, "acme")
	var ev []usage.Event
	for i, st := range []int{200, 404, 404, 500, 201} {
		ev = append(ev, usage.Event{Kind: usage.KindAPIRequest, ID: fmt.Sprintf("c%d", i), Time: s.now.Add(-time.Duration(i+1) * time.Minute),
			Method: "GET", URL: "/v1/x", Endpoint: "/v1/x", Status: st, Client: []string{"Data Team", "Slack"}[i%2], Collection: "Ideas API", CollectionType: "proxy"})
	}
	ev = append(ev, usage.Event{Kind: usage.KindAPIRequest, ID: "self", Time: s.now.Add(-time.Minute), Method: "GET", URL: "/api/v1/logs",
		Endpoint: "GET /api/v1/logs", Status: 200, Client: "cli", Collection: usage.SelfCollection, CollectionType: "proxy"})
	if _, err := s.store.Append(ctx, ws.ID, ev); err != nil {
		t.Fatal(err)
	}
	b, _ := s.signIn("ann@acme.example")
	rows := func(body string) int { return strings.Count(body, "<tr") - 1 }
	p := s.get(b, "/logs?period=24h")
	if rows(p.body) != 5 || strings.Contains(p.body, "/api/v1/logs</code>") {
		t.Errorf("unfiltered: %d rows (want 5, none of usagelog's own)", rows(p.body))
	}
	for _, want := range []string{`<input type="checkbox" name="status" value="404" > 404 Not Found (2)</label>`, `<input type="checkbox" name="client" value="Slack" > Slack (2)</label>`,
		`<input type="checkbox" name="collection" value="usagelog API" > usagelog API</label>`, `<details class="picklist" id="filter-client">`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("choices lack %s", want)
		}
	}
	p = s.get(b, "/logs?period=24h&status=404&status=500")
	if rows(p.body) != 3 || !strings.Contains(p.body, `value="404" checked>`) || !strings.Contains(p.body, `value="500" checked>`) || !strings.Contains(p.body, "Code <span class=\"picked\">(2 ticked)</span>") {
		t.Errorf("two statuses: %d rows", rows(p.body))
	}
	p = s.get(b, "/logs?period=24h&client=Slack&client=Data+Team&status=404")
	if rows(p.body) != 2 {
		t.Errorf("two clients and a status: %d rows", rows(p.body))
	}
	p = s.get(b, "/logs?period=24h&collection=usagelog+API")
	if rows(p.body) != 1 || !strings.Contains(p.body, "/api/v1/logs</code>") || !strings.Contains(p.body, `value="usagelog API" checked>`) {
		t.Errorf("usagelog's own calls: %d rows", rows(p.body))
	}
	if p = s.get(b, "/logs?period=24h&status_class=4xx,5xx"); rows(p.body) != 3 {
		t.Errorf("two classes: %d rows", rows(p.body))
	}
	// A name with a comma is one name.
	if p = s.get(b, "/logs?period=24h&client=Slack,+Data+Team"); rows(p.body) != 0 || !strings.Contains(p.body, `value="Slack, Data Team" checked>`) {
		t.Errorf("a client name with a comma: %d rows", rows(p.body))
	}
}

// TestClassificationSettings: an admin edits the rules on the settings
// page, one a line; a bad line is refused naming it; the defaults come
// back on request.
func TestClassificationSettings(t *testing.T) {
	s := newSite(t)
	s.member("acme", "ann@acme.example", usage.RoleAdmin)
	ctx := context.Background()
	ws, _ := s.store.WorkspaceByName(ctx, "acme")
	b, token := s.signIn("ann@acme.example")
	if p := s.get(b, "/settings"); !strings.Contains(p.body, "ideascale-mcp-server/ | MCP server | mcp") || !strings.Contains(p.body, "These are the defaults.") {
		t.Errorf("settings page lacks the default rules")
	}
	p := s.post(b, "/settings/classification", url.Values{"csrf": {token}, "rules": {"/v2/ | | Shop API | other\n/v3/ | | Shop | robot\n"}})
	if p.status != 400 || !strings.Contains(p.body, `Line 2: usage_type: unknown usage type &#34;robot&#34; (want mcp or other).`) || !strings.Contains(p.body, "/v3/ | | Shop | robot") {
		t.Errorf("a bad line: %d %s", p.status, p.body)
	}
	if rules, set, _ := s.store.Classification(ctx, ws.ID); set {
		t.Errorf("a refused edit saved %v", rules)
	}
	p = s.post(b, "/settings/classification", url.Values{"csrf": {token}, "rules": {"# shop\n/v2/orders/ | shop-mcp/ | Shop MCP | mcp\n\n/v2/ |  | Shop API | other\n"}})
	if p.status != 303 || p.header.Get("Location") != "/settings?saved=rules#classification" {
		t.Errorf("save: %d %s", p.status, p.header.Get("Location"))
	}
	if p := s.get(b, "/settings?saved=rules"); !strings.Contains(p.body, "Classification rules saved") || !strings.Contains(p.body, "/v2/orders/ | shop-mcp/ | Shop MCP | mcp") ||
		!strings.Contains(p.body, "waiting to be classified again by these rules") {
		t.Errorf("after saving: %s", p.body)
	}
	// The stored calls' reclassification, as it goes on and once done.
	if _, _, err := s.store.ClaimReclassification(ctx, time.Now(), time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.store.ReclassificationProgress(ctx, ws.ID, 3, 12, time.Now()); err != nil {
		t.Fatal(err)
	}
	if p := s.get(b, "/settings"); !strings.Contains(p.body, `25% done. <progress value="3" max="12">`) {
		t.Errorf("running: %s", p.body)
	}
	if err := s.store.FinishReclassification(ctx, ws.ID, 1234, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	if p := s.get(b, "/settings"); !strings.Contains(p.body, "all follow these rules (1,234 classified differently, finished") {
		t.Errorf("done: %s", p.body)
	}
	want := []usage.Rule{{URLPrefix: "/v2/orders/", UserAgentPrefix: "shop-mcp/", System: "Shop MCP", UsageType: usage.TypeMCP}, {URLPrefix: "/v2/", System: "Shop API", UsageType: usage.TypeOther}}
	if rules, set, _ := s.store.Classification(ctx, ws.ID); !set || fmt.Sprint(rules) != fmt.Sprint(want) {
		t.Errorf("saved %v, want %v", rules, want)
	}
	s.post(b, "/settings/classification", url.Values{"csrf": {token}, "defaults": {"on"}, "rules": {"anything"}})
	if _, set, _ := s.store.Classification(ctx, ws.ID); set {
		t.Error("the defaults did not come back")
	}
}

// TestRedactionSettings: an admin edits the redaction rules on the
// settings page; a bad pattern is refused naming it and keeps what was
// typed; the defaults come back on request; analysts may not.
func TestRedactionSettings(t *testing.T) {
	s := newSite(t)
	s.member("acme", "ann@acme.example", usage.RoleAdmin)
	s.member("acme", "bob@acme.example", usage.RoleAnalyst)
	ctx := context.Background()
	ws, _ := s.store.WorkspaceByName(ctx, "acme")
	b, token := s.signIn("ann@acme.example")
	p := s.get(b, "/settings")
	if !strings.Contains(p.body, `id="redaction"`) || !strings.Contains(p.body, "access_token\napi_key") || !strings.Contains(p.body, `<option value="full" selected>`) {
		t.Errorf("settings page lacks the default redaction: %s", p.body)
	}
	p = s.post(b, "/settings/redaction", url.Values{"csrf": {token}, "query_params": {"token\nsid"}, "path_patterns": {"^[0-9]{16}$\n(unclosed"}, "ip": {"truncated"}})
	if p.status != 400 || !strings.Contains(p.body, "path_patterns[1]: error parsing regexp") || !strings.Contains(p.body, "(unclosed") {
		t.Errorf("a bad pattern: %d %s", p.status, p.body)
	}
	if _, set, _ := s.store.Redaction(ctx, ws.ID); set {
		t.Error("a refused edit was saved")
	}
	p = s.post(b, "/settings/redaction", url.Values{"csrf": {token}, "query_params": {" token \n\nsid\n"}, "path_patterns": {"^[0-9]{16}$"}, "ip": {"truncated"}})
	if p.status != 303 || p.header.Get("Location") != "/settings?saved=redaction#redaction" {
		t.Errorf("save: %d %s", p.status, p.header.Get("Location"))
	}
	want := usage.Redaction{QueryParams: []string{"token", "sid"}, PathPatterns: []string{"^[0-9]{16}$"}, IP: usage.IPTruncated}
	if got, set, _ := s.store.Redaction(ctx, ws.ID); !set || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("saved %#v, want %#v", got, want)
	}
	if p := s.get(b, "/settings?saved=redaction"); !strings.Contains(p.body, "Redaction rules saved") || !strings.Contains(p.body, `<option value="truncated" selected>`) || strings.Contains(p.body, "access_token") {
		t.Errorf("after saving: %s", p.body)
	}
	s.post(b, "/settings/redaction", url.Values{"csrf": {token}, "defaults": {"on"}, "ip": {"nonsense"}})
	if _, set, _ := s.store.Redaction(ctx, ws.ID); set {
		t.Error("the defaults did not come back")
	}
	analyst, atoken := s.signIn("bob@acme.example")
	if p := s.post(analyst, "/settings/redaction", url.Values{"csrf": {atoken}, "ip": {"none"}}); p.status != 403 {
		t.Errorf("an analyst: %d", p.status)
	}
}

// TestAuditPage: sign-ins, failed ones and the console's changes are in
// the audit log, which admins read on its page with filters and download
// as CSV.
func TestAuditPage(t *testing.T) {
	st := sqlitetest.Open(t)
	log, err := audit.New(audit.Config{Store: st, FlushEvery: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := &site{t: t, store: st, now: time.Now()}
	c, err := console.New(console.Config{Meta: st, Events: st, Now: func() time.Time { return s.now }, SessionTTL: time.Hour, MaxFailures: 3, FailureWindow: 10 * time.Minute, Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	s.member("acme", "ann@acme.example", usage.RoleAdmin)
	b0 := s.browser()
	s.post(b0, "/login", url.Values{"email": {"ann@acme.example"}, "password": {"not it"}, "csrf": {csrf(t, s.get(b0, "/login").body)}})
	b, token := s.signIn("ann@acme.example")
	s.post(b, "/keys", url.Values{"csrf": {token}, "name": {"=cmd|calc"}, "scope": {"LOGS_READ"}})
	s.post(b, "/settings", url.Values{"csrf": {token}, "timezone": {"Asia/Kathmandu"}, "export_row_limit": {"0"}})
	var p page
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if p = s.get(b, "/audit"); strings.Count(p.body, "<tr>") >= 5 {
			break
		}
	}
	for _, want := range []string{"member.sign_in_failed", "member.sign_in", "key.create", "settings.update", `id="download-audit"`, "=cmd|calc"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("audit page lacks %s", want)
		}
	}
	if p := s.get(b, "/audit?action=key.create"); strings.Contains(p.body, "settings.update</code>") || !strings.Contains(p.body, "key.create</code>") {
		t.Error("the action filter")
	}
	if p := s.get(b, "/audit?action=nonsense"); p.status != 400 {
		t.Errorf("a bad action: %d", p.status)
	}
	csvPage := s.get(b, "/audit.csv?action=key.create")
	if !strings.HasPrefix(csvPage.body, "Time,Actor type,Actor ID,Actor name,Action,Target,IP,Details\r\n") || !strings.Contains(csvPage.body, ",member,") ||
		strings.Count(csvPage.body, "\r\n") != 2 || !strings.Contains(csvPage.body, `"{""name"":""=cmd|calc""`) || strings.Contains(csvPage.body, ",=") {
		t.Errorf("csv: %q", csvPage.body)
	}
	log.Close()
}

// TestLogsLoadMoreWithoutJavaScript follows "Load more" as a link, as a
// browser without JavaScript does: each page is the next one, with the
// filters kept, until every matching call has been shown once.
func TestLogsLoadMoreWithoutJavaScript(t *testing.T) {
	s := newSite(t)
	s.member("acme", "ann@acme.example", usage.RoleAdmin)
	ctx := context.Background()
	ws, _ := s.store.WorkspaceByName(ctx, "acme")
	var ev []usage.Event
	const n = 130
	for i := range n {
		ev = append(ev, usage.Event{Kind: usage.KindAPIRequest, ID: fmt.Sprintf("c%d", i), Time: s.now.Add(-time.Duration(i+1) * time.Second),
			Method: "GET", URL: fmt.Sprintf("/v1/item/%d", i), Endpoint: fmt.Sprintf("/v1/item/%d", i), Status: []int{200, 404}[i%2],
			Client: "Slack", Collection: "Ideas API", CollectionType: "proxy"})
	}
	if _, err := s.store.Append(ctx, ws.ID, ev); err != nil {
		t.Fatal(err)
	}
	b, _ := s.signIn("ann@acme.example")
	more := regexp.MustCompile(`id="load-more" href="([^"]+)"`)
	item := regexp.MustCompile(`/v1/item/(\d+)`)
	seen := map[string]bool{}
	path, pages := "/logs?period=24h&status=404", 0
	for path != "" {
		if pages++; pages > 5 {
			t.Fatalf("more than 5 pages for %d rows", n/2)
		}
		p := s.get(b, path)
		if p.status != 200 {
			t.Fatalf("%s: %d", path, p.status)
		}
		for _, m := range item.FindAllStringSubmatch(p.body, -1) {
			if seen[m[1]] {
				t.Fatalf("%s shows call %s again", path, m[1])
			}
			seen[m[1]] = true
		}
		path = ""
		if m := more.FindStringSubmatch(p.body); m != nil {
			path = html.UnescapeString(m[1])
			if u, err := url.Parse(path); err != nil || u.Query().Get("cursor") == "" || u.Query().Get("status") != "404" {
				t.Fatalf("Load more links to %q: no cursor or the filter lost", path)
			}
		}
	}
	if len(seen) != n/2 || pages != 2 {
		t.Errorf("%d pages showed %d calls, want 2 pages and %d", pages, len(seen), n/2)
	}
}

// TestExportFormsWithoutJavaScript: the API usage form offers every
// stored community (one with calls 200 days old too), exports all data
// unless the range is ticked, picks the timezone from a list, and a form
// the export would refuse comes back with the reason and what was sent.
func TestExportFormsWithoutJavaScript(t *testing.T) {
	s := newSite(t)
	s.member("acme", "ann@acme.example", usage.RoleAdmin)
	ctx := context.Background()
	ws, _ := s.store.WorkspaceByName(ctx, "acme")
	ev := []usage.Event{
		{Kind: usage.KindAPIRequest, ID: "old", Time: s.now.AddDate(0, 0, -200), Method: "GET", URL: "/x", Status: 200, Community: "Archive <club>"},
		{Kind: usage.KindAPIRequest, ID: "new", Time: s.now.Add(-time.Hour), Method: "GET", URL: "/x", Status: 200, Community: "Pioneers"},
	}
	if _, err := s.store.Append(ctx, ws.ID, ev); err != nil {
		t.Fatal(err)
	}
	b, _ := s.signIn("ann@acme.example")
	p := s.get(b, "/export/api-usage")
	for _, want := range []string{`<option >Archive &lt;club&gt;</option>`, `<option >Pioneers</option>`, `<select id="tz" name="tz"`, `<option selected>UTC</option>`,
		`id="use-range" data-toggles="range-fields" >`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("API usage form lacks %s", want)
		}
	}
	for _, tc := range []struct{ path, msg, kept string }{
		{"/export/download?report=api-usage&format=csv&community=Pioneers&type=mcp&range=off&range=on&from=2026-02-30&to=2026-03-01&tz=UTC",
			`from: invalid date`, `<option selected>Pioneers</option>`},
		{"/export/download?report=api-usage&format=csv&type=all&range=off&from=2026-01-01&to=2026-03-01&tz=Mars/Base",
			`unknown timezone &#34;Mars/Base&#34;`, `<option selected>Mars/Base</option>`},
		{"/export/download?report=users&from=2026-03-10&to=2026-03-01&tz=UTC", "is after", `<option value="users" selected>`},
	} {
		p := s.get(b, tc.path)
		if p.status != 400 || !strings.Contains(p.header.Get("Content-Type"), "text/html") || !strings.Contains(p.body, `class="problem"`) ||
			!strings.Contains(p.body, tc.msg) || !strings.Contains(p.body, tc.kept) {
			t.Errorf("%s: %d %s, want the form again with %q and %q: %s", tc.path, p.status, p.header.Get("Content-Type"), tc.msg, tc.kept, p.body)
		}
	}
	// A good form goes on to the API's export, the range dropped when it
	// is not ticked.
	p = s.get(b, "/export/download?report=api-usage&format=csv&community=&type=all&range=off&from=2026-01-01&to=2026-03-01&tz=UTC")
	if loc := p.header.Get("Location"); p.status != http.StatusSeeOther || loc != "/api/v1/exports/api-usage?format=csv&type=all&tz=UTC" {
		t.Errorf("good form: %d to %q", p.status, loc)
	}
}

// TestLogsCustomRangeAndZone: the logs page reads a custom range of whole
// days in the zone picked, shows the times in that zone and says which,
// and writes a status as the seed does, the gateway code beside it.
func TestLogsCustomRangeAndZone(t *testing.T) {
	s := newSite(t)
	s.member("acme", "ann@acme.example", usage.RoleAdmin)
	ctx := context.Background()
	ws, _ := s.store.WorkspaceByName(ctx, "acme")
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	var ev []usage.Event
	// 20:00 UTC on the 9th is the 10th in Kolkata (+05:30); 20:00 UTC on
	// the 10th is the 11th there.
	for i, at := range []time.Time{day.Add(-4 * time.Hour), day.Add(12 * time.Hour), day.Add(20 * time.Hour), day.Add(-30 * 24 * time.Hour)} {
		ev = append(ev, usage.Event{Kind: usage.KindAPIRequest, ID: fmt.Sprintf("r%d", i), Time: at, Method: "GET", URL: "/v1/x",
			Endpoint: fmt.Sprintf("/v1/x/%d", i), Status: 401, GatewayCode: 4012, StatusDetails: "Missing token", Client: "Slack", Collection: "Ideas API"})
	}
	if _, err := s.store.Append(ctx, ws.ID, ev); err != nil {
		t.Fatal(err)
	}
	b, _ := s.signIn("ann@acme.example")
	shown := func(body string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`/v1/x/(\d)</code>`).FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	p := s.get(b, "/logs?period=custom&from=2026-03-10&to=2026-03-10&tz=Asia/Kolkata")
	if got := shown(p.body); p.status != 200 || strings.Join(got, ",") != "1,0" {
		t.Fatalf("the 10th in Kolkata: %d, calls %v, want 1 and 0", p.status, got)
	}
	for _, want := range []string{"Date and time (Asia/Kolkata)", "2026-03-10 01:30:00", "2026-03-10 17:30:00",
		`<span class="status">401 Unauthorized · 4012</span>`, `<option value="custom" selected>Custom range</option>`, `<option selected>Asia/Kolkata</option>`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	// From and to alone are a custom range; a period drops them.
	if got := shown(s.get(b, "/logs?from=2026-03-10&to=2026-03-10").body); strings.Join(got, ",") != "2,1" {
		t.Errorf("the 10th in UTC: calls %v, want 2 and 1", got)
	}
	if got := shown(s.get(b, "/logs?period=90d&from=2026-03-10&to=2026-03-10").body); len(got) != 0 && len(got) != 4 {
		t.Errorf("period with from and to: calls %v, the period's", got)
	}
	// A bad date or zone is a message on the page.
	if p := s.get(b, "/logs?period=custom&from=2026-02-30"); p.status != 400 || !strings.Contains(p.body, `class="problem"`) {
		t.Errorf("a bad date: %d", p.status)
	}
}
