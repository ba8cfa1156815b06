package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/clickhouse"
	"github.com/usagelog/usagelog/internal/console"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// BenchmarkConsolePages times every page of the console a member opens, end
// to end over HTTP (the HTML with every number and pick-list on it), on
// the event store USAGELOG_BENCH_CONSOLE_EVENTS names: clickhouse://… (the
// demo-shaped store of internal/clickhouse's benchmarks) or sqlite:PATH
// (internal/sqlite's BenchmarkSummary store). Both hold the demo's year up
// to 2026-11-01 10:07 UTC in workspace 1, which is the console's clock
// here. first-ms is each page's first call.
func BenchmarkConsolePages(b *testing.B) {
	dsn := os.Getenv("USAGELOG_BENCH_CONSOLE_EVENTS")
	if dsn == "" {
		b.Skip("USAGELOG_BENCH_CONSOLE_EVENTS names no store (scripts/bench.sh sets it)")
	}
	ctx := context.Background()
	var events console.Events
	switch {
	case strings.HasPrefix(dsn, "clickhouse://"):
		s, err := clickhouse.Open(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		events = s
	case strings.HasPrefix(dsn, "sqlite:"):
		s, err := sqlite.Open(ctx, sqlite.Config{Path: strings.TrimPrefix(dsn, "sqlite:")})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		events = s
	default:
		b.Fatalf("USAGELOG_BENCH_CONSOLE_EVENTS=%q: want clickhouse://… or sqlite:PATH", dsn)
	}
	meta := sqlitetest.Open(b)
	ws, err := meta.EnsureWorkspace(ctx, usage.DefaultWorkspace)
	if err != nil || ws.ID != 1 {
		b.Fatalf("workspace %+v, %v: the demo data is workspace 1's", ws, err)
	}
	hash, err := usage.HashPassword("correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	if err := meta.CreateMember(ctx, usage.Member{ID: "mem_bench", WorkspaceID: ws.ID, Email: "admin@example.com", PasswordHash: hash, Role: usage.RoleAdmin, CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	end := time.Date(2026, 11, 1, 10, 7, 0, 0, time.UTC)
	c, err := console.New(console.Config{Meta: meta, Events: events, Now: func() time.Time { return end }, SessionTTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(c)
	b.Cleanup(srv.Close)
	client := signedIn(b, srv.URL, "admin@example.com")

	var pages []string
	for _, p := range []string{"24h", "7d", "30d", "90d"} {
		pages = append(pages, "/?period="+p, "/logs?period="+p, "/logs?period="+p+"&client=Data+Team",
			"/logs?period="+p+"&collection=Ideas+API", "/logs?period="+p+"&status_class=5xx")
	}
	pages = append(pages, "/export/api-usage", "/export/usage", "/licenses")
	for _, page := range pages {
		b.Run(strings.TrimPrefix(page, "/"), func(b *testing.B) {
			call := func() {
				resp, err := client.Get(srv.URL + page)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || strings.Contains(string(body), "is not available") {
					b.Fatalf("%s: %d %.300s", page, resp.StatusCode, body)
				}
			}
			storetest.TimeCalls(b, call)
		})
	}
}

// signedIn signs a member in through the form and returns its browser.
func signedIn(b *testing.B, base, email string) *http.Client {
	b.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "/login")
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindStringSubmatch(string(body))
	if m == nil {
		b.Fatal("no CSRF field on the sign-in page")
	}
	resp, err = client.PostForm(base+"/login", url.Values{"email": {email}, "password": {"correct horse battery"}, "csrf": {m[1]}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign in: %d", resp.StatusCode)
	}
	return client
}
