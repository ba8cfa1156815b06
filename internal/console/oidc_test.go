package console

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"github.com/usagelog/usagelog/internal/console/dextest"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// ssoSite is a console signing in through a real Dex.
type ssoSite struct {
	url   string
	dex   *dextest.Dex
	c     *Console
	store interface {
		MemberByEmail(ctx context.Context, email string) (usage.Member, error)
	}
	now time.Time
}

func newSSOSite(t *testing.T, defaultRole usage.Role, only bool) *ssoSite {
	t.Helper()
	usage.PasswordCost = 4
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	callback := base + "/login/oidc/callback"
	dex := dextest.Start(t, []string{"ann@acme.example", "stranger@acme.example"},
		dextest.Client{ID: "usagelog", Secret: "usagelog-secret", RedirectURIs: []string{callback}},
		dextest.Client{ID: "other-app", Secret: "other-secret", RedirectURIs: []string{"http://127.0.0.1:1/cb"}})
	st := sqlitetest.Open(t)
	ws, _ := st.EnsureWorkspace(context.Background(), "default")
	if err := st.CreateMember(context.Background(), usage.Member{ID: "mem_ann", WorkspaceID: ws.ID, Email: "ann@acme.example", Role: usage.RoleAdmin, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	s := &ssoSite{url: base, dex: dex, store: st, now: time.Now()}
	c, err := New(Config{Meta: st, Events: st, Secret: []byte("a test secret of the server"), Now: func() time.Time { return s.now },
		OIDC: &OIDC{Issuer: dex.Issuer, ClientID: "usagelog", ClientSecret: "usagelog-secret", RedirectURL: callback, DefaultRole: defaultRole, Only: only}})
	if err != nil {
		t.Fatal(err)
	}
	s.c = c
	srv.Config.Handler = c
	srv.Start()
	t.Cleanup(srv.Close)
	return s
}

// browser is a cookie-keeping client that follows no redirect: the test
// decides where the browser goes, and how often.
func (s *ssoSite) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var formAction = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)

// signInAtDex starts a sign-in and fills Dex's login form as email: it
// returns the callback URL Dex sends the browser to.
func (s *ssoSite) signInAtDex(t *testing.T, b *http.Client, email string) string {
	t.Helper()
	resp, _ := get(t, b, s.url+"/login/oidc?next=/logs")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start: %d", resp.StatusCode)
	}
	var page string
	for resp.StatusCode/100 == 3 { // through Dex to its login form
		next, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
		resp, page = get(t, b, next.String())
	}
	m := formAction.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no login form at Dex: %s", page)
	}
	action, _ := url.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
	resp, err := b.PostForm(resp.Request.URL.ResolveReference(action).String(), url.Values{"login": {email}, "password": {dextest.Password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for resp.StatusCode/100 == 3 && !strings.HasPrefix(resp.Header.Get("Location"), s.url) {
		next, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
		resp, _ = get(t, b, next.String())
	}
	if !strings.HasPrefix(resp.Header.Get("Location"), s.url+"/login/oidc/callback") {
		t.Fatalf("dex answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return resp.Header.Get("Location")
}

func get(t *testing.T, b *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func sessionOf(resp *http.Response) bool {
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			return true
		}
	}
	return false
}

func TestSSOSignIn(t *testing.T) {
	s := newSSOSite(t, "", false)
	b := s.browser()
	callback := s.signInAtDex(t, b, "ann@acme.example")
	resp, _ := get(t, b, callback)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/logs" || !sessionOf(resp) {
		t.Fatalf("callback: %d %q session %v", resp.StatusCode, resp.Header.Get("Location"), sessionOf(resp))
	}
	if _, page := get(t, b, s.url+"/logs"); !strings.Contains(page, "ann@acme.example") {
		t.Error("signed in, the logs page does not show the member")
	}
	// The same callback again: its state was used (the cookie is gone)
	// and its code spent.
	resp, page := get(t, b, callback)
	if resp.StatusCode != http.StatusBadRequest || sessionOf(resp) || !strings.Contains(page, "already used") {
		t.Errorf("replayed callback: %d session %v", resp.StatusCode, sessionOf(resp))
	}
	// Replayed with a copy of its cookie: the server knows the state was
	// used, and does not ask the provider.
	b2 := s.browser()
	callback2 := s.signInAtDex(t, b2, "ann@acme.example")
	cb, _ := url.Parse(callback2)
	flow := b2.Jar.Cookies(cb)
	if resp, _ := get(t, b2, callback2); resp.StatusCode != http.StatusSeeOther || !sessionOf(resp) {
		t.Fatalf("second sign-in: %d", resp.StatusCode)
	}
	thief := s.browser()
	thief.Jar.SetCookies(cb, flow)
	if resp, page := get(t, thief, callback2); resp.StatusCode != http.StatusBadRequest || sessionOf(resp) || !strings.Contains(page, "already used") || len(flow) == 0 {
		t.Errorf("callback replayed with its cookie: %d session %v (%d cookies copied)", resp.StatusCode, sessionOf(resp), len(flow))
	}
	// The login page offers SSO beside the password form.
	if _, page := get(t, s.browser(), s.url+"/login"); !strings.Contains(page, `id="sso"`) || !strings.Contains(page, `name="password"`) {
		t.Error("login page: no SSO button or no password form")
	}
}

func TestSSORefusals(t *testing.T) {
	s := newSSOSite(t, "", true)
	// A wrong state: the cookie's sign-in is another.
	b := s.browser()
	callback := s.signInAtDex(t, b, "ann@acme.example")
	u, _ := url.Parse(callback)
	q := u.Query()
	q.Set("state", "not-the-state")
	u.RawQuery = q.Encode()
	if resp, page := get(t, b, u.String()); resp.StatusCode != http.StatusBadRequest || sessionOf(resp) || !strings.Contains(page, "state does not match") {
		t.Errorf("wrong state: %d", resp.StatusCode)
	}
	// A callback in a browser that never started the sign-in.
	if resp, _ := get(t, s.browser(), callback); resp.StatusCode != http.StatusBadRequest || sessionOf(resp) {
		t.Errorf("foreign callback: %d", resp.StatusCode)
	}
	// A verified email that is no member's, without --oidc-default-role.
	b = s.browser()
	if resp, page := get(t, b, s.signInAtDex(t, b, "stranger@acme.example")); resp.StatusCode != http.StatusForbidden || sessionOf(resp) || !strings.Contains(page, "stranger@acme.example is not a member") {
		t.Errorf("stranger: %d %s", resp.StatusCode, page)
	}
	// --oidc-only: no password form, and a posted password is refused.
	if _, page := get(t, s.browser(), s.url+"/login"); strings.Contains(page, `name="password"`) {
		t.Error("password form shown with --oidc-only")
	}
	resp, err := s.browser().PostForm(s.url+"/login", url.Values{"email": {"ann@acme.example"}, "password": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || sessionOf(resp) {
		t.Errorf("password with --oidc-only: %d", resp.StatusCode)
	}
	// The provider down: a page that says so, no session.
	s.dex.Stop()
	s.c.oidc.provider = nil // as after a restart: discovery again
	if resp, page := get(t, s.browser(), s.url+"/login/oidc"); resp.StatusCode != http.StatusBadGateway || !strings.Contains(page, "does not answer") {
		t.Errorf("provider down: %d %s", resp.StatusCode, page)
	}
}

func TestSSODefaultRole(t *testing.T) {
	s := newSSOSite(t, usage.RoleAnalyst, false)
	b := s.browser()
	if resp, _ := get(t, b, s.signInAtDex(t, b, "stranger@acme.example")); resp.StatusCode != http.StatusSeeOther || !sessionOf(resp) {
		t.Fatalf("stranger with a default role: %d", resp.StatusCode)
	}
	m, err := s.store.MemberByEmail(context.Background(), "stranger@acme.example")
	if err != nil || m.Role != usage.RoleAnalyst {
		t.Errorf("member made: %+v %v", m, err)
	}
}

// passwordGrant gets an ID token from Dex for client id as email.
func passwordGrant(t *testing.T, d *dextest.Dex, id, secret, email string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", d.Issuer+"/token", strings.NewReader(url.Values{
		"grant_type": {"password"}, "username": {email}, "password": {dextest.Password}, "scope": {"openid email"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		IDToken string `json:"id_token"`
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &tok); err != nil || tok.IDToken == "" {
		t.Fatalf("password grant: %d %v %s", resp.StatusCode, err, body)
	}
	return tok.IDToken
}

// TestSSOTokenChecks: an ID token of Dex for another client, one past its
// expiry, one with another nonce, and one whose email is not verified are
// each refused.
func TestSSOTokenChecks(t *testing.T) {
	s := newSSOSite(t, "", false)
	ctx := context.Background()
	p, err := s.c.oidc.discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other := passwordGrant(t, s.dex, "other-app", "other-secret", "ann@acme.example")
	if _, err := s.c.oidc.verify(ctx, s.c.oidc.verifier(p), other, ""); err == nil || !strings.Contains(err.Error(), "audience") {
		t.Errorf("another client's token: %v", err)
	}
	mine := passwordGrant(t, s.dex, "usagelog", "usagelog-secret", "ann@acme.example")
	if _, err := s.c.oidc.verify(ctx, s.c.oidc.verifier(p), mine, "some nonce"); err == nil || !strings.Contains(err.Error(), "another sign-in") {
		t.Errorf("another nonce: %v", err)
	}
	s.now = time.Now().Add(48 * time.Hour)
	if _, err := s.c.oidc.verify(ctx, s.c.oidc.verifier(p), mine, ""); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired: %v", err)
	}
	s.now = time.Now()
	if email, err := s.c.oidc.verify(ctx, s.c.oidc.verifier(p), mine, ""); err != nil || email != "ann@acme.example" {
		t.Errorf("a good token: %q %v", email, err)
	}

	// Dex verifies every static user's email: an unverified one is made
	// here, signed by a key of our own.
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, nil)
	claims, _ := json.Marshal(map[string]any{"iss": "https://idp.example", "aud": "usagelog", "sub": "u1", "exp": time.Now().Add(time.Hour).Unix(),
		"iat": time.Now().Unix(), "email": "ann@acme.example", "email_verified": false})
	jws, _ := signer.Sign(claims)
	raw, _ := jws.CompactSerialize()
	v := oidc.NewVerifier("https://idp.example", &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{&key.PublicKey}}, &oidc.Config{ClientID: "usagelog"})
	if _, err := s.c.oidc.verify(ctx, v, raw, ""); err == nil || !strings.Contains(err.Error(), "not verified") {
		t.Errorf("unverified email: %v", err)
	}
}
