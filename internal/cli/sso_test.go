package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/usagelog/usagelog/internal/cli"
	"github.com/usagelog/usagelog/internal/console/dextest"
)

// TestSSOInBrowser signs in to a running server through Dex's own login
// form, in Chromium, and lands on the overview.
func TestSSOInBrowser(t *testing.T) {
	addr := dextest.FreeAddr(t)
	dex := dextest.Start(t, []string{"admin@example.com"},
		dextest.Client{ID: "usagelog", Secret: "usagelog-secret", RedirectURIs: []string{"http://" + addr + "/login/oidc/callback"}})
	data := t.TempDir()
	code := cli.Run(context.Background(), []string{"members", "create", "--data", data, "--email", "admin@example.com", "--role", "admin"},
		cli.Env{Stdin: strings.NewReader(""), Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, Getenv: func(string) string { return "" }})
	if code != 0 {
		t.Fatalf("members create: exit %d", code)
	}
	srv := startServer(t, "--data", data, "--addr", addr, "--demo", "--demo-scale", "0.02",
		"--oidc-issuer", dex.Issuer, "--oidc-client-id", "usagelog", "--oidc-client-secret", "usagelog-secret", "--oidc-only")
	defer srv.stop(t)
	b := newBrowser(t, srv.url)
	b.run(chromedp.Navigate(b.base+"/logs"), chromedp.WaitVisible("#sso", chromedp.ByID))
	if b.count(`input[name="password"]`) != 0 {
		t.Error("the password form is shown with --oidc-only")
	}
	b.screenshot("login-sso")
	b.run(
		chromedp.Click("#sso", chromedp.ByID),
		chromedp.WaitVisible("#login", chromedp.ByID), // Dex's form
		chromedp.SendKeys("#login", "admin@example.com", chromedp.ByID),
		chromedp.SendKeys("#password", dextest.Password, chromedp.ByID),
		chromedp.Submit("#password", chromedp.ByID),
		chromedp.WaitVisible("#logs-table", chromedp.ByID), // back where the member was going
	)
	if !strings.Contains(b.text(".user"), "admin@example.com") {
		t.Errorf("signed in as %q", b.text(".user"))
	}
}
