package cli_test

import (
	"archive/zip"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/usagelog/usagelog/internal/cli"
)

// chromium finds Debian's Chromium, which scripts/test.sh installs. The
// browser tests fail without it: they never skip.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: run scripts/test.sh, which installs Debian's chromium")
	return ""
}

// browserSession is one headless Chromium with a download folder.
type browserSession struct {
	t         *testing.T
	ctx       context.Context
	base      string
	downloads string
	shots     string
}

func newBrowser(t *testing.T, base string) *browserSession {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.WindowSize(1366, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	// The README's pictures are rewritten only when asked
	// (UPDATE_SCREENSHOTS=1): the test command leaves a checkout clean.
	shots := t.TempDir()
	if os.Getenv("UPDATE_SCREENSHOTS") != "" {
		shots = filepath.Join("..", "..", "docs", "screenshots")
	}
	b := &browserSession{t: t, ctx: ctx, base: base, downloads: t.TempDir(), shots: shots}
	b.run(browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(b.downloads))
	return b
}

func (b *browserSession) run(actions ...chromedp.Action) {
	b.t.Helper()
	defer func(start time.Time) {
		if d := time.Since(start); d > 2*time.Second {
			b.t.Logf("slow step: %s", d)
		}
	}(time.Now())
	if err := chromedp.Run(b.ctx, actions...); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browserSession) text(sel string) string {
	b.t.Helper()
	var s string
	b.run(chromedp.Text(sel, &s, chromedp.ByQuery))
	return strings.TrimSpace(s)
}

// value is a form field's value.
func (b *browserSession) value(sel string) string {
	b.t.Helper()
	var s string
	b.run(chromedp.Value(sel, &s, chromedp.ByQuery))
	return s
}

func (b *browserSession) count(sel string) int {
	b.t.Helper()
	var n int
	b.run(chromedp.Evaluate(fmt.Sprintf("document.querySelectorAll(%q).length", sel), &n))
	return n
}

// screenshot saves the whole page as NAME.png: in docs/screenshots, for the
// README, with UPDATE_SCREENSHOTS=1.
func (b *browserSession) screenshot(name string) {
	b.t.Helper()
	var png []byte
	b.run(chromedp.FullScreenshot(&png, 100))
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// screenshotViewport saves what the window shows.
func (b *browserSession) screenshotViewport(name string) {
	b.t.Helper()
	var png []byte
	b.run(chromedp.CaptureScreenshot(&png))
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// download waits for a new complete file in the download folder.
func (b *browserSession) download(suffix string, before map[string]bool) string {
	b.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(b.downloads)
		for _, e := range entries {
			if !before[e.Name()] && strings.HasSuffix(e.Name(), suffix) {
				return filepath.Join(b.downloads, e.Name())
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("no %s file was downloaded", suffix)
	return ""
}

func (b *browserSession) existing() map[string]bool {
	m := map[string]bool{}
	entries, _ := os.ReadDir(b.downloads)
	for _, e := range entries {
		m[e.Name()] = true
	}
	return m
}

func (b *browserSession) signIn(email, password string) {
	b.t.Helper()
	b.run(
		chromedp.Navigate(b.base+"/"),
		chromedp.WaitVisible("#email", chromedp.ByID),
		chromedp.SendKeys("#email", email, chromedp.ByID),
		chromedp.SendKeys("#password", password, chromedp.ByID),
		chromedp.Submit("#password", chromedp.ByID),
		chromedp.WaitVisible("#kpi-total", chromedp.ByID),
	)
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// TestConsoleInBrowser does each seed's task in the console, in a real
// headless Chromium, on the demo data: sign in, the overview, filtering
// the logs and loading more, downloading the log CSV, the API usage export,
// a usage export and the usage reports (as jobs, with progress), creating
// and revoking a key, saving settings, and an analyst kept out of the
// admin pages. It screenshots every page (into docs/screenshots with UPDATE_SCREENSHOTS=1).
func TestConsoleInBrowser(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, "--data", data, "--demo", "--demo-scale", "0.3")
	defer srv.stop(t)
	for _, m := range []struct{ email, role string }{{"admin@example.com", "admin"}, {"analyst@example.com", "analyst"}} {
		code := cli.Run(context.Background(), []string{"members", "create", "--data", data, "--email", m.email, "--role", m.role, "--password-stdin"},
			cli.Env{Stdin: strings.NewReader("correct horse battery\n"), Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Getenv: func(string) string { return "" }})
		if code != 0 {
			t.Fatalf("members create %s: exit %d", m.email, code)
		}
	}
	b := newBrowser(t, srv.url)

	// Sign in.
	b.run(chromedp.Navigate(b.base+"/logs"), chromedp.WaitVisible("#email", chromedp.ByID))
	b.screenshot("login")
	b.run(
		chromedp.SendKeys("#email", "admin@example.com", chromedp.ByID),
		chromedp.SendKeys("#password", "wrong password", chromedp.ByID),
		chromedp.Submit("#password", chromedp.ByID),
		chromedp.WaitVisible(".problem", chromedp.ByQuery),
	)
	if got := b.text(".problem"); got != "Wrong email or password." {
		t.Errorf("wrong password: %q", got)
	}
	b.signIn("admin@example.com", "correct horse battery")
	if b.text(".workspace") != "default" || !strings.Contains(b.text(".user"), "admin@example.com") {
		t.Errorf("header: workspace %q, user %q", b.text(".workspace"), b.text(".user"))
	}

	// Overview.
	if total := b.text("#kpi-total"); total == "0" || total == "" {
		t.Errorf("overview total = %q on the demo data", total)
	}
	if n := b.count("#requests-chart rect.ok"); n != 28 {
		t.Errorf("7d chart has %d columns, want 28", n)
	}
	b.screenshot("overview")
	b.run(chromedp.Click(`a[href="/?period=30d"]`, chromedp.ByQuery), chromedp.WaitVisible(`a[href="/?period=30d"][aria-current]`, chromedp.ByQuery))
	if n := b.count("#requests-chart rect.ok"); n != 30 {
		t.Errorf("30d chart has %d columns, want 30", n)
	}
	if n := b.count("#clients-chart g"); n == 0 {
		t.Error("no top clients on the demo data")
	}

	// API logs: filter, check the rows, load more, download.
	b.run(chromedp.Navigate(b.base+"/logs"), chromedp.WaitVisible("#logs-table", chromedp.ByID))
	b.run(
		chromedp.SetValue(`select[name="period"]`, "30d", chromedp.ByQuery),
		// The status pick-list opens as a dropdown of checkboxes.
		chromedp.Click(`#filter-class summary`, chromedp.ByQuery),
		chromedp.Click(`#filter-class input[value="4xx"]`, chromedp.ByQuery),
		chromedp.Click(`#log-filters button[type="submit"]`, chromedp.ByQuery),
		// The answer's page ticks the chosen box: the old page does not.
		chromedp.WaitReady(`#filter-class input[value="4xx"][checked]`, chromedp.ByQuery),
		chromedp.WaitVisible("#load-more", chromedp.ByID),
	)
	var loc string
	b.run(chromedp.Location(&loc))
	if !strings.Contains(loc, "status_class=4xx") || !strings.Contains(loc, "period=30d") {
		t.Errorf("filters are not in the URL: %s", loc)
	}
	// Two codes at once, ticked in the Code pick-list, the class unticked.
	b.run(
		chromedp.Click(`#filter-class summary`, chromedp.ByQuery),
		chromedp.Click(`#filter-class input[value="4xx"]`, chromedp.ByQuery),
		chromedp.Click(`#filter-status summary`, chromedp.ByQuery),
		chromedp.Click(`#filter-status input[value="401"]`, chromedp.ByQuery),
		chromedp.Click(`#filter-status input[value="404"]`, chromedp.ByQuery),
		chromedp.Click(`#log-filters button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitReady(`#filter-status input[value="401"][checked]`, chromedp.ByQuery),
	)
	// A long pick-list has a search box that hides what does not match.
	var codes []string
	b.run(
		chromedp.Click(`#filter-status summary`, chromedp.ByQuery),
		chromedp.SendKeys(`#filter-status .picklist-search`, "40", chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll("#filter-status label.check")).filter(l => !l.hidden).map(l => l.textContent.trim())`, &codes),
	)
	for _, c := range codes {
		if !strings.Contains(c, "40") {
			t.Errorf("the Code search for 40 shows %q", c)
		}
	}
	if len(codes) < 2 {
		t.Errorf("the Code search for 40 shows %q", codes)
	}
	var two []string
	b.run(chromedp.Evaluate(`Array.from(document.querySelectorAll("#logs-table tbody .status")).map(e => e.textContent.slice(0, 3))`, &two))
	seen := map[string]bool{}
	for _, st := range two {
		seen[st] = true
	}
	if len(two) == 0 || len(seen) != 2 || !seen["401"] || !seen["404"] {
		t.Errorf("two codes picked: rows of %v", seen)
	}
	b.run(chromedp.Navigate(b.base+"/logs?period=30d&status_class=4xx"), chromedp.WaitVisible("#load-more", chromedp.ByID))
	statuses := func() []string {
		var s []string
		b.run(chromedp.Evaluate(`Array.from(document.querySelectorAll("#logs-table tbody .status")).map(e => e.textContent)`, &s))
		return s
	}
	first := statuses()
	if len(first) != 50 {
		t.Fatalf("first page has %d rows, want 50", len(first))
	}
	for _, s := range first {
		if !strings.HasPrefix(s, "4") {
			t.Fatalf("a %q row under the 4xx filter", s)
		}
	}
	b.screenshot("logs")
	b.run(chromedp.Click("#load-more", chromedp.ByID))
	for deadline := time.Now().Add(10 * time.Second); len(statuses()) == 50 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if got := statuses(); len(got) != 100 || !strings.HasPrefix(got[99], "4") {
		t.Errorf("after Load more: %d rows", len(got))
	}
	before := b.existing()
	b.run(chromedp.Click("#download-logs", chromedp.ByID))
	rows := readCSV(t, b.download(".csv", before))
	if strings.Join(rows[0], ",") != "Date,Type,Code,Status,Gateway code,Status details,IP,Timing,Delay,API collection,Endpoint,Client,Job details" {
		t.Errorf("log CSV header %v", rows[0])
	}
	if len(rows) < 101 {
		t.Errorf("log CSV has %d rows", len(rows)-1)
	}
	for _, r := range rows[1:] {
		if !strings.HasPrefix(r[2], "4") {
			t.Fatalf("log CSV row with code %s under the 4xx filter", r[2])
		}
	}

	// Export data → API usage (seed 000), CSV of MCP calls, as a job.
	b.run(chromedp.Navigate(b.base+"/export/api-usage"), chromedp.WaitVisible("#api-usage-form", chromedp.ByID))
	b.screenshot("export-api-usage")
	before = b.existing()
	b.run(
		chromedp.Click(`input[name="format"][value="csv"]`, chromedp.ByQuery),
		chromedp.SetValue("#type", "mcp", chromedp.ByID),
		chromedp.Click(`#api-usage-form button[type="submit"]`, chromedp.ByQuery),
	)
	rows = readCSV(t, b.download(".csv", before))
	if strings.Join(rows[0], ",") != "ID,Community Name,Member Name,Timestamp,IP Address,URL,Remote System Info" || len(rows) < 2 {
		t.Errorf("API usage CSV: header %v, %d rows", rows[0], len(rows)-1)
	}
	if got := b.text("#api-usage-form .job-text"); !strings.HasPrefix(got, "Done:") {
		t.Errorf("job progress says %q", got)
	}

	// Usage exports (seed 001): users of the previous month.
	b.run(chromedp.Navigate(b.base+"/export/usage"), chromedp.WaitVisible("#usage-export-form", chromedp.ByID))
	b.screenshot("usage-exports")
	before = b.existing()
	b.run(chromedp.SetValue("#report", "users", chromedp.ByID), chromedp.Click(`#usage-export-form button[type="submit"]`, chromedp.ByQuery))
	rows = readCSV(t, b.download(".csv", before))
	if !strings.Contains(strings.Join(rows[0], ","), "Messages") || len(rows) < 2 {
		t.Errorf("users export: header %v, %d rows", rows[0], len(rows)-1)
	}

	// Licenses (seed 003): the summary and the zip.
	b.run(chromedp.Navigate(b.base+"/licenses"), chromedp.WaitVisible("#usage-reports-form", chromedp.ByID))
	if users := b.text(".summary .users"); users == "" || users == "0" {
		t.Errorf("licenses: unique users %q on the demo data", users)
	}
	b.screenshot("licenses")
	before = b.existing()
	b.run(chromedp.Click(`#usage-reports-form button[type="submit"]`, chromedp.ByQuery))
	zipPath := b.download(".zip", before)
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 2 || zr.File[0].Name != "Usage Report (Last 6 Months).xlsx" {
		t.Errorf("usage reports zip holds %d files", len(zr.File))
	}
	zr.Close()
	if got := b.text("#usage-reports-form .job-text"); !strings.Contains(got, "two workbooks") || !strings.Contains(got, "users in the last year") {
		t.Errorf("usage reports job says %q, want what it made", got)
	}

	// API keys: create (token shown once), then revoke.
	b.run(chromedp.Navigate(b.base+"/keys"), chromedp.WaitVisible("#create-key", chromedp.ByID))
	b.run(
		chromedp.SendKeys("#key-name", "browser <key>", chromedp.ByID),
		chromedp.Click(`input[name="scope"][value="LOGS_READ"]`, chromedp.ByQuery),
		chromedp.Submit("#key-name", chromedp.ByID),
		chromedp.WaitVisible("#new-token", chromedp.ByID),
	)
	if tok := b.text("#new-token"); !strings.HasPrefix(tok, "ulk_") {
		t.Errorf("new token %q", tok)
	}
	b.screenshot("keys")
	if !strings.Contains(b.text("#keys-table"), "browser <key>") {
		t.Error("the new key is not listed")
	}
	b.run(chromedp.Click(`#keys-table button.danger`, chromedp.ByQuery), chromedp.WaitNotPresent("#new-token", chromedp.ByID))
	if !strings.Contains(b.text("#keys-table"), "revoked") {
		t.Error("the key was not revoked")
	}

	// Settings: the classification rules, then privacy.
	b.run(chromedp.Navigate(b.base+"/settings"), chromedp.WaitVisible(`input[name="anonymize_ips"]`, chromedp.ByQuery))
	if rules := b.value("#rules"); !strings.Contains(rules, "/a/rest/chat/ |  | Slack | other") {
		t.Errorf("default rules in the settings: %q", rules)
	}
	b.run(
		chromedp.SetValue("#rules", "/v2/ | shop-mcp/ | Shop assistant | mcp\n"+b.value("#rules"), chromedp.ByID),
		chromedp.Click(`#classification button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#classification .notice", chromedp.ByQuery),
	)
	if rules := b.value("#rules"); !strings.HasPrefix(rules, "/v2/ | shop-mcp/ | Shop assistant | mcp\n") {
		t.Errorf("saved rules: %q", rules)
	}
	b.screenshot("settings")
	// Redaction: addresses truncated from now on.
	if params := b.value("#query_params"); !strings.Contains(params, "access_token") {
		t.Errorf("default redaction in the settings: %q", params)
	}
	b.run(
		chromedp.SetValue("#ip", "truncated", chromedp.ByID),
		chromedp.Click(`#redaction button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#redaction .notice", chromedp.ByQuery),
	)
	if ip := b.value("#ip"); ip != "truncated" {
		t.Errorf("saved address mode: %q", ip)
	}
	b.run(chromedp.Navigate(b.base+"/settings"), chromedp.WaitVisible(`input[name="anonymize_ips"]`, chromedp.ByQuery))
	b.run(chromedp.Click(`input[name="anonymize_ips"]`, chromedp.ByQuery), chromedp.Submit("#timezone", chromedp.ByID), chromedp.WaitVisible(".notice", chromedp.ByQuery))
	b.run(chromedp.Navigate(b.base+"/logs"), chromedp.WaitVisible("#logs-table", chromedp.ByID))
	var ips []string
	b.run(chromedp.Evaluate(`Array.from(document.querySelectorAll("#logs-table tbody tr td:nth-child(6)")).map(e => e.textContent)`, &ips))
	for _, ip := range ips {
		if strings.Contains(ip, ".") && !strings.HasSuffix(ip, ".0") {
			t.Fatalf("IP %q shown with anonymize_ips on", ip)
		}
	}

	// The audit log: what this session did.
	b.run(chromedp.Navigate(b.base+"/audit"), chromedp.WaitVisible("#audit-table", chromedp.ByID))
	var actions []string
	b.run(chromedp.Evaluate(`Array.from(document.querySelectorAll("#audit-table tbody td:nth-child(3)")).map(e => e.textContent)`, &actions))
	for _, want := range []string{"member.sign_in", "member.sign_in_failed", "key.create", "key.revoke", "settings.update", "classification.update", "redaction.update", "export.create"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit log lacks %s: %v", want, actions)
		}
	}
	b.screenshot("audit")

	// The API reference, from the header: every operation of the
	// description, rendered by the server.
	b.run(chromedp.Click(`.top nav a[href="/api"]`, chromedp.ByQuery), chromedp.WaitVisible("#ingestEvents", chromedp.ByID))
	if n := b.count(".api-op"); n < 40 {
		t.Errorf("the API reference shows %d operations", n)
	}
	if got := b.text("#createKey .scope"); got != "WORKSPACE_ADMIN" {
		t.Errorf("createKey's scope shows %q", got)
	}
	if got := b.text("#schema-ErrorDetail pre"); !strings.Contains(got, "gateway_code") {
		t.Errorf("the error schema lacks gateway_code: %s", got)
	}
	if n := b.count("script[src]:not([src^='/static/'])"); n != 0 {
		t.Errorf("the reference loads %d scripts from elsewhere", n)
	}
	// The page is long: the first screen of it.
	b.screenshotViewport("api-reference")

	// Sign out; an analyst does not see or reach the admin pages.
	b.run(chromedp.Click(`.user button`, chromedp.ByQuery), chromedp.WaitVisible("#email", chromedp.ByID))
	b.signIn("analyst@example.com", "correct horse battery")
	if nav := b.text(".top nav"); strings.Contains(nav, "Licenses") || strings.Contains(nav, "API keys") || strings.Contains(nav, "Settings") {
		t.Errorf("analyst navigation shows admin pages: %q", nav)
	}
	for _, page := range []string{"/licenses", "/keys", "/settings", "/audit"} {
		b.run(chromedp.Navigate(b.base+page), chromedp.WaitVisible(".problem", chromedp.ByQuery))
		if got := b.text(".problem"); got != "This page is for workspace admins." {
			t.Errorf("analyst on %s: %q", page, got)
		}
	}
	b.run(chromedp.Navigate(b.base+"/logs"), chromedp.WaitVisible("#logs-table", chromedp.ByID))
}

// TestAlertsInBrowser: an admin creates a rule on the Alerts page of a
// running server, in a real headless Chromium, and sees it fire on the
// overview and in the rule's history once serve measures it.
func TestAlertsInBrowser(t *testing.T) {
	data := t.TempDir()
	now := time.Now().UTC()
	var body strings.Builder
	for i := range 50 {
		fmt.Fprintf(&body, `{"kind":"api_request","id":"c%d","time":%q,"status":%d,"collection":"Orders","client":"ERP"}`+"\n",
			i, now.Add(-time.Duration(i)*5*time.Second).Format(time.RFC3339), []int{200, 502}[i%2])
	}
	file := filepath.Join(t.TempDir(), "calls.ndjson")
	if err := os.WriteFile(file, []byte(body.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	env := cli.Env{Stdin: strings.NewReader("correct horse battery\n"), Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Getenv: func(string) string { return "" }}
	if code := cli.Run(context.Background(), []string{"ingest", "--data", data, file}, env); code != 0 {
		t.Fatalf("ingest: exit %d", code)
	}
	if code := cli.Run(context.Background(), []string{"members", "create", "--data", data, "--email", "admin@example.com", "--role", "admin", "--password-stdin"}, env); code != 0 {
		t.Fatalf("members create: exit %d", code)
	}
	srv := startServer(t, "--data", data, "--alert-every", "500ms")
	defer srv.stop(t)
	b := newBrowser(t, srv.url)
	b.signIn("admin@example.com", "correct horse battery")
	b.run(chromedp.Navigate(b.base+"/alerts"), chromedp.WaitVisible("#create-alert", chromedp.ByID))
	b.run(
		chromedp.SendKeys("#alert-name", "Orders failing", chromedp.ByID),
		chromedp.SetValue("#alert-metric", "error_rate", chromedp.ByID),
		chromedp.SetValue("#alert-threshold", "0.2", chromedp.ByID),
		chromedp.SendKeys("#alert-collection", "Orders", chromedp.ByID),
		chromedp.Submit("#alert-name", chromedp.ByID),
		chromedp.WaitVisible(`#alerts-table a`, chromedp.ByQuery),
	)
	b.screenshot("alerts")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var n int
		b.run(chromedp.Navigate(b.base+"/"), chromedp.WaitVisible("#kpi-total", chromedp.ByID),
			chromedp.Evaluate(`document.querySelectorAll("#firing-alerts li").length`, &n))
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rule did not fire on the overview")
		}
	}
	if s := b.text("#firing-alerts li"); !strings.Contains(s, "Orders failing: error_rate 50.0%") {
		t.Fatalf("firing: %q", s)
	}
	b.run(chromedp.Click(`#firing-alerts a`, chromedp.ByQuery), chromedp.WaitVisible("#alert-history", chromedp.ByID))
	if s := b.text("#alert-state"); s != "firing" {
		t.Fatalf("state %q", s)
	}
	if s := b.text("#alert-history tbody"); !strings.Contains(s, "firing") {
		t.Fatalf("history %q", s)
	}
}

// TestErasureInBrowser: an admin erases a member with the console's form;
// the page follows the erasure to its receipt, and the API log no longer
// shows the member.
func TestErasureInBrowser(t *testing.T) {
	data := t.TempDir()
	now := time.Now().UTC()
	var body strings.Builder
	for i := range 60 {
		member := []string{"m-keep", "m-gone"}[i%2]
		fmt.Fprintf(&body, `{"kind":"api_request","id":"c%d","time":%q,"status":200,"collection":"Orders","member_id":%q,"member_name":"%s name"}`+"\n",
			i, now.Add(-time.Duration(i)*5*time.Second).Format(time.RFC3339), member, member)
	}
	file := filepath.Join(t.TempDir(), "calls.ndjson")
	if err := os.WriteFile(file, []byte(body.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	env := cli.Env{Stdin: strings.NewReader("correct horse battery\n"), Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Getenv: func(string) string { return "" }}
	if code := cli.Run(context.Background(), []string{"ingest", "--data", data, file}, env); code != 0 {
		t.Fatalf("ingest: exit %d", code)
	}
	if code := cli.Run(context.Background(), []string{"members", "create", "--data", data, "--email", "admin@example.com", "--role", "admin", "--password-stdin"}, env); code != 0 {
		t.Fatalf("members create: exit %d", code)
	}
	srv := startServer(t, "--data", data)
	defer srv.stop(t)
	b := newBrowser(t, srv.url)
	b.signIn("admin@example.com", "correct horse battery")
	b.run(chromedp.Navigate(b.base+"/erasures"), chromedp.WaitVisible("#create-erasure", chromedp.ByID))
	b.run(
		chromedp.SetValue("#erasure-field", "member_id", chromedp.ByID),
		chromedp.SendKeys("#erasure-value", "m-gone", chromedp.ByID),
		chromedp.SendKeys("#erasure-reason", "ticket <7>", chromedp.ByID),
		chromedp.Submit("#erasure-value", chromedp.ByID),
		chromedp.WaitVisible("#erasure-receipt", chromedp.ByID),
	)
	// The page refreshes itself until the receipt is there.
	b.run(chromedp.WaitVisible("#erasure-removed", chromedp.ByID))
	b.screenshot("erasure")
	if s := b.text("#erasure-removed"); !strings.Contains(s, "30 api_request events") {
		t.Fatalf("removed: %q", s)
	}
	if s := b.text("#erasure-status"); s != "done" {
		t.Fatalf("status %q", s)
	}
	var rows int
	b.run(chromedp.Navigate(b.base+"/logs"), chromedp.WaitVisible("#logs-table", chromedp.ByID),
		chromedp.Evaluate(`document.querySelectorAll("#logs-table tbody tr").length`, &rows))
	if rows != 30 {
		t.Fatalf("the API log after the erasure shows %d calls, want the other member's 30", rows)
	}
}
