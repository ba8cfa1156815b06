package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/usagelog/usagelog/capture"
	"github.com/usagelog/usagelog/internal/usage"
)

// OIDC configures sign-in through an OpenID Connect provider (the
// authorization-code flow with PKCE).
type OIDC struct {
	// Issuer is the provider's URL, where its discovery document is.
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is this console's callback as the provider knows it:
	// the public URL and /login/oidc/callback.
	RedirectURL string
	// DefaultRole, when set, makes a verified email that no member has a
	// member of the default workspace with that role; when empty, such
	// an email is refused.
	DefaultRole usage.Role
	// Only turns password sign-in off.
	Only bool
	// HTTPClient talks to the provider; default one with a 10 s timeout.
	HTTPClient *http.Client
}

// Validate reports what is wrong with the configuration.
func (o OIDC) Validate() error {
	var errs []error
	if !strings.HasPrefix(o.Issuer, "https://") && !strings.HasPrefix(o.Issuer, "http://") {
		errs = append(errs, fmt.Errorf("--oidc-issuer %q: want the provider's http(s) URL", o.Issuer))
	}
	if o.ClientID == "" || o.ClientSecret == "" {
		errs = append(errs, errors.New("--oidc-client-id and --oidc-client-secret are required with --oidc-issuer"))
	}
	if o.DefaultRole != "" && o.DefaultRole != usage.RoleAdmin && o.DefaultRole != usage.RoleAnalyst {
		errs = append(errs, fmt.Errorf("--oidc-default-role %q: want admin or analyst", o.DefaultRole))
	}
	return errors.Join(errs...)
}

// oidcClient is the console's side of the flow. The provider is
// discovered at the first sign-in, and again after a failure, so that a
// provider that is down does not stop the server from starting.
type oidcClient struct {
	cfg OIDC
	key []byte // signs the flow's cookie
	now func() time.Time

	mu       sync.Mutex
	provider *oidc.Provider
	// spent are the states of callbacks already taken, until their flow
	// expires: a callback replayed with a copy of its cookie is refused
	// here, before the provider is asked to exchange its code again.
	spent map[string]time.Time
}

// spend marks a flow's state used and reports whether it was unused.
func (o *oidcClient) spend(f oidcFlow, now time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.spent == nil {
		o.spent = map[string]time.Time{}
	}
	for st, exp := range o.spent {
		if now.After(exp) {
			delete(o.spent, st)
		}
	}
	if _, used := o.spent[f.State]; used {
		return false
	}
	o.spent[f.State] = f.Expires
	return true
}

func newOIDCClient(cfg OIDC, secret []byte, now func() time.Time) (*oidcClient, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	if len(secret) == 0 {
		return nil, errors.New("console: sign-in with OIDC needs the server secret")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("usagelog oidc flow cookie"))
	return &oidcClient{cfg: cfg, key: mac.Sum(nil), now: now}, nil
}

func (o *oidcClient) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.cfg.HTTPClient)
}

// discover returns the provider, reading its discovery document once.
func (o *oidcClient) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(o.ctx(ctx), o.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	o.provider = p
	return p, nil
}

func (o *oidcClient) oauth2(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, RedirectURL: o.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
}

// oidcFlow is what the browser carries between the start of a sign-in and
// the provider's callback, in a signed cookie: the state the callback must
// return, the ID token's nonce, the PKCE verifier and the page to land on.
type oidcFlow struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Next     string    `json:"next"`
	Expires  time.Time `json:"expires"`
}

const oidcCookie = "usagelog_oidc"

func (o *oidcClient) seal(f oidcFlow) string {
	body, _ := json.Marshal(f) // plain strings and a time
	mac := hmac.New(sha256.New, o.key)
	mac.Write(body)
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (o *oidcClient) open(v string, now time.Time) (oidcFlow, error) {
	var f oidcFlow
	body64, sig64, ok := strings.Cut(v, ".")
	body, err1 := base64.RawURLEncoding.DecodeString(body64)
	sig, err2 := base64.RawURLEncoding.DecodeString(sig64)
	if !ok || err1 != nil || err2 != nil {
		return f, errors.New("the sign-in cookie is malformed")
	}
	mac := hmac.New(sha256.New, o.key)
	mac.Write(body)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return f, errors.New("the sign-in cookie is not this server's")
	}
	if err := json.Unmarshal(body, &f); err != nil {
		return f, errors.New("the sign-in cookie is malformed")
	}
	if now.After(f.Expires) {
		return f, errors.New("the sign-in took longer than 10 minutes")
	}
	return f, nil
}

// oidcStart sends the browser to the provider.
func (c *Console) oidcStart(w http.ResponseWriter, r *http.Request) {
	p, err := c.oidc.discover(r.Context())
	if err != nil {
		c.log.Error("console: sso: the provider does not answer", "issuer", c.cfg.OIDC.Issuer, "err", err)
		c.showLogin(w, r, http.StatusBadGateway, "", "The sign-in provider does not answer right now. Try again later"+c.passwordHint()+".")
		return
	}
	f := oidcFlow{State: usage.RandomToken(24), Nonce: usage.RandomToken(24), Verifier: oauth2.GenerateVerifier(),
		Next: safeNext(r.URL.Query().Get("next")), Expires: c.cfg.Now().Add(10 * time.Minute)}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: c.oidc.seal(f), Path: "/login/oidc", HttpOnly: true, Secure: c.cfg.SecureCookies,
		SameSite: http.SameSiteLaxMode, MaxAge: 600})
	http.Redirect(w, r, c.oidc.oauth2(p).AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusSeeOther)
}

func (c *Console) passwordHint() string {
	if c.cfg.OIDC.Only {
		return ""
	}
	return ", or sign in with your password"
}

// oidcRefuse answers a callback that signs no one in: the sign-in page
// with the reason, and a log line.
func (c *Console) oidcRefuse(w http.ResponseWriter, r *http.Request, status int, reason string, err error, attrs ...any) {
	c.log.Warn("console: sso sign-in refused", append([]any{"reason", reason, "err", err, "ip", r.RemoteAddr}, attrs...)...)
	email := ""
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i] == "email" {
			email, _ = attrs[i+1].(string)
		}
	}
	c.auditSignIn(r.Context(), usage.Member{}, email, capture.ClientIP(r, nil), usage.AuditMemberSignInFailed, map[string]any{"method": "oidc", "reason": reason})
	c.showLogin(w, r, status, "", reason)
}

// oidcCallback completes a sign-in: the state checked against the cookie
// (which is used once), the code exchanged with the PKCE verifier, the ID
// token verified (signature by the provider's keys, issuer, audience,
// expiry) with its nonce, and a verified email that names a member.
func (c *Console) oidcCallback(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(oidcCookie)
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/login/oidc", MaxAge: -1})
	if err != nil {
		c.oidcRefuse(w, r, http.StatusBadRequest, "This sign-in was not started here, or it was already used. Start again with \"Sign in with SSO\".", err)
		return
	}
	f, err := c.oidc.open(ck.Value, c.cfg.Now())
	if err != nil {
		c.oidcRefuse(w, r, http.StatusBadRequest, "The sign-in could not be completed: "+err.Error()+". Start again.", err)
		return
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		c.oidcRefuse(w, r, http.StatusBadRequest, "The sign-in's state does not match: start again with \"Sign in with SSO\".", errors.New("state mismatch"))
		return
	}
	if !c.oidc.spend(f, c.cfg.Now()) {
		c.oidcRefuse(w, r, http.StatusBadRequest, "This sign-in was already used. Start again with \"Sign in with SSO\".", errors.New("state replayed"))
		return
	}
	if e := q.Get("error"); e != "" {
		c.oidcRefuse(w, r, http.StatusForbidden, "The sign-in provider refused: "+e+" "+q.Get("error_description"), errors.New(e))
		return
	}
	p, err := c.oidc.discover(r.Context())
	if err != nil {
		c.oidcRefuse(w, r, http.StatusBadGateway, "The sign-in provider does not answer right now. Try again later"+c.passwordHint()+".", err)
		return
	}
	tok, err := c.oidc.oauth2(p).Exchange(c.oidc.ctx(r.Context()), q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		c.oidcRefuse(w, r, http.StatusBadGateway, "The sign-in provider did not accept the sign-in's code. Start again.", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		c.oidcRefuse(w, r, http.StatusBadGateway, "The sign-in provider sent no ID token.", errors.New("no id_token"))
		return
	}
	email, err := c.oidc.verify(r.Context(), c.oidc.verifier(p), raw, f.Nonce)
	if err != nil {
		c.oidcRefuse(w, r, http.StatusForbidden, "The sign-in provider's answer was not accepted: "+err.Error()+".", err)
		return
	}
	m, err := c.cfg.Meta.MemberByEmail(r.Context(), email)
	switch {
	case usage.ErrorCode(err) == usage.ENotFound && c.cfg.OIDC.DefaultRole != "":
		m, err = c.oidcMember(r.Context(), email)
	case usage.ErrorCode(err) == usage.ENotFound:
		c.oidcRefuse(w, r, http.StatusForbidden, fmt.Sprintf("%s is not a member of this usagelog. Ask an admin to add you.", email), err, "email", email)
		return
	}
	if err != nil {
		c.log.Error("console: sso sign-in", "err", err)
		c.errorPage(w, r, nil, http.StatusInternalServerError, "Sign-in is not available right now.")
		return
	}
	if err := c.cfg.Audit.Ready(); err != nil {
		c.showLogin(w, r, usage.HTTPStatus(err), "", usage.ErrorMessage(err))
		return
	}
	c.log.Info("console: sso sign-in", "email", email, "member", m.ID)
	c.auditSignIn(r.Context(), m, email, capture.ClientIP(r, nil), usage.AuditMemberSignIn, map[string]any{"method": "oidc"})
	c.startSession(w, r, m, f.Next)
}

// verifier checks ID tokens of the provider for this client: signature
// by the provider's (rotating) keys, issuer, audience and expiry.
func (o *oidcClient) verifier(p *oidc.Provider) *oidc.IDTokenVerifier {
	return p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID, Now: o.now})
}

// verify checks an ID token and returns its verified email, lower-cased.
func (o *oidcClient) verify(ctx context.Context, v *oidc.IDTokenVerifier, raw, nonce string) (string, error) {
	id, err := v.Verify(o.ctx(ctx), raw)
	if err != nil {
		return "", fmt.Errorf("its ID token is not valid (%w)", err)
	}
	if subtle.ConstantTimeCompare([]byte(id.Nonce), []byte(nonce)) != 1 {
		return "", errors.New("its ID token was made for another sign-in")
	}
	var claims struct {
		Email    string `json:"email"`
		Verified *bool  `json:"email_verified"`
	}
	if err := id.Claims(&claims); err != nil {
		return "", fmt.Errorf("its ID token's claims: %w", err)
	}
	if claims.Email == "" {
		return "", errors.New("it names no email")
	}
	if claims.Verified == nil || !*claims.Verified {
		return "", fmt.Errorf("the email %s is not verified by the provider", claims.Email)
	}
	return strings.ToLower(strings.TrimSpace(claims.Email)), nil
}

// oidcMember makes a verified email a member of the default workspace
// with the default role.
func (c *Console) oidcMember(ctx context.Context, email string) (usage.Member, error) {
	ws, err := c.cfg.Meta.EnsureWorkspace(ctx, usage.DefaultWorkspace)
	if err != nil {
		return usage.Member{}, err
	}
	m := usage.Member{ID: usage.RandomID("mem_", 6), WorkspaceID: ws.ID, Email: email, Role: c.cfg.OIDC.DefaultRole, CreatedAt: c.cfg.Now()}
	if err := c.cfg.Meta.CreateMember(ctx, m); err != nil {
		if usage.ErrorCode(err) == usage.EConflict { // a sign-in beside this one made it
			return c.cfg.Meta.MemberByEmail(ctx, email)
		}
		return usage.Member{}, err
	}
	c.log.Info("console: sso made a member", "email", email, "role", m.Role)
	if err := c.cfg.Audit.Record(usage.AuditEntry{WorkspaceID: ws.ID, Actor: usage.SystemActor("sign-in with SSO"), Action: usage.AuditMemberCreate,
		Target: email, Details: map[string]any{"role": string(m.Role), "via": "oidc-default-role"}}); err != nil {
		c.log.Error("audit: member not recorded", "email", email, "err", err)
	}
	return m, nil
}
