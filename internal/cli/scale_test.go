//go:build !race

package cli_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/usagelog/usagelog/internal/cli"
)

// TestConsoleAtScale signs in, in headless Chromium, to a store of about
// 2.4 million demo events and sees the overview, the logs page's choices
// and the API usage page's communities, all from the summaries. It is too
// slow under the race detector; scripts/test.sh runs it without.
func TestConsoleAtScale(t *testing.T) {
	data := t.TempDir()
	start := time.Now()
	srv := startServer(t, "--data", data, "--demo", "--demo-scale", "10")
	defer srv.stop(t)
	t.Logf("demo data: %s (%s)", strings.TrimSpace(firstLine(srv.stdout.String(), "demo:")), time.Since(start).Round(time.Millisecond))
	code := cli.Run(context.Background(), []string{"members", "create", "--data", data, "--email", "admin@example.com", "--role", "admin", "--password-stdin"},
		cli.Env{Stdin: strings.NewReader("correct horse battery\n"), Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Getenv: func(string) string { return "" }})
	if code != 0 {
		t.Fatalf("members create: exit %d", code)
	}
	b := newBrowser(t, srv.url)
	b.signIn("admin@example.com", "correct horse battery")

	for _, period := range []string{"24h", "7d", "30d", "90d"} {
		began := time.Now()
		b.run(chromedp.Navigate(b.base+"/?period="+period), chromedp.WaitVisible("#kpi-total", chromedp.ByID))
		took := time.Since(began)
		total, err := strconv.ParseInt(strings.ReplaceAll(b.text("#kpi-total"), ",", ""), 10, 64)
		if err != nil || total < 10_000 {
			t.Errorf("overview %s: total %q on 2.4 million events", period, b.text("#kpi-total"))
		}
		t.Logf("overview %s: %d calls, page in %s", period, total, took.Round(time.Millisecond))
	}
	if n := b.count("#requests-chart rect.ok"); n != 90 {
		t.Errorf("90d chart has %d columns, want 90", n)
	}
	if n := b.count("#clients-chart g"); n != 7 {
		t.Errorf("top clients: %d, want the demo's 7", n)
	}

	b.run(chromedp.Navigate(b.base+"/logs?period=90d"), chromedp.WaitVisible("#logs-table", chromedp.ByID))
	var clients []string
	b.run(chromedp.Evaluate(`Array.from(document.querySelectorAll("#filter-client input[type=checkbox]")).map(e => e.value)`, &clients))
	if len(clients) != 7 || !contains(clients, "Data Team") { // the demo's 7 (none picked is all)
		t.Errorf("client choices: %q\n%s", clients, srv.stderr.String())
	}

	b.run(chromedp.Navigate(b.base+"/export/api-usage"), chromedp.WaitVisible("#community", chromedp.ByID))
	var communities []string
	b.run(chromedp.Evaluate(`Array.from(document.querySelectorAll("#community option")).map(e => e.value)`, &communities))
	if !contains(communities, "Innovation Hub") || !contains(communities, "Sustainability Lab") {
		t.Errorf("communities: %q", communities)
	}
}

func firstLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
