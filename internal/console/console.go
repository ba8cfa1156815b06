// Package console is usagelog's web console: server-rendered pages, member
// sign-in with sessions, CSRF protection and role checks.
package console

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/usagelog/usagelog/capture"
	"github.com/usagelog/usagelog/internal/alerts"
	"github.com/usagelog/usagelog/internal/apidoc"
	"github.com/usagelog/usagelog/internal/audit"
	"github.com/usagelog/usagelog/internal/buildinfo"
	"github.com/usagelog/usagelog/internal/erasure"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

//go:embed templates/*.html static/*
var assets embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"upper": strings.ToUpper,
	"list":  func(v ...string) []string { return v },
	"add":   func(a, b int) int { return a + b },
	// dict passes named values to a template: a pick-list's name, id,
	// label and choices.
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
	"num":       thousands,
	"lastValue": lastValue,
	// build names the running build in every page's footer.
	"build": func() string { return buildinfo.Read().Version },
	// cur marks the navigation link of the page being shown.
	"cur": func(nav any, name string) template.HTMLAttr {
		if fmt.Sprint(nav) == name {
			return `aria-current="page"`
		}
		return ""
	},
}).ParseFS(assets, "templates/*.html"))

// Store is what the console needs of the metadata store.
type Store interface {
	WorkspaceByID(ctx context.Context, id int64) (usage.Workspace, error)
	MemberByEmail(ctx context.Context, email string) (usage.Member, error)
	MemberByID(ctx context.Context, id string) (usage.Member, error)
	CreateMember(ctx context.Context, m usage.Member) error
	EnsureWorkspace(ctx context.Context, name string) (usage.Workspace, error)
	Audit(ctx context.Context, workspaceID int64, q usage.AuditQuery) ([]usage.AuditEntry, error)
	CreateSession(ctx context.Context, s usage.Session) error
	SessionByHash(ctx context.Context, hash string, now time.Time) (usage.Session, error)
	DeleteSession(ctx context.Context, hash string) error
	Settings(ctx context.Context, workspaceID int64) (usage.Settings, error)
	SaveSettings(ctx context.Context, workspaceID int64, s usage.Settings) error
	Classification(ctx context.Context, workspaceID int64) ([]usage.Rule, bool, error)
	SaveClassification(ctx context.Context, workspaceID int64, rules []usage.Rule) error
	Redaction(ctx context.Context, workspaceID int64) (usage.Redaction, bool, error)
	SaveRedaction(ctx context.Context, workspaceID int64, r *usage.Redaction) error
	RequestReclassification(ctx context.Context, workspaceID int64, at time.Time) error
	Reclassification(ctx context.Context, workspaceID int64) (usage.Reclassification, error)
	CreateKey(ctx context.Context, k usage.APIKey) error
	Keys(ctx context.Context, workspaceID int64) ([]usage.APIKey, error)
	RevokeKey(ctx context.Context, workspaceID int64, id string, at time.Time) error
}

// Config configures the console.
type Config struct {
	Meta   Store
	Events Events
	// Secret keys the pseudonyms of the privacy settings, as in the API.
	Secret []byte
	Logger *slog.Logger
	Now    func() time.Time
	// SessionTTL is how long a sign-in lasts; default 12 hours.
	SessionTTL time.Duration
	// SecureCookies marks cookies Secure (serve behind HTTPS).
	SecureCookies bool
	// MaxFailures sign-in failures per email or address within
	// FailureWindow lock further attempts for the rest of the window;
	// defaults 5 and 15 minutes.
	MaxFailures   int
	FailureWindow time.Duration
	// OIDC, when set, offers sign-in through an OpenID Connect provider.
	OIDC *OIDC
	// Audit, when set, records sign-ins and the changes made here.
	Audit *audit.Log
	// MaxRangeDays bounds a usage export's range as the API's does (0:
	// export.DefaultMaxRangeDays), so that the export forms refuse what
	// the API would.
	MaxRangeDays int
	// APIDescription returns the API's OpenAPI document, which the API
	// reference page (/api) shows; read on its first view, as the API is
	// made after the console whose sessions it takes.
	APIDescription func() []byte
	// Reclassifier, when set, is woken when a workspace's rules change, to
	// classify its stored calls again (reclassify.Runner).
	Reclassifier interface{ Wake() }
	// Alerts keeps the alert rules of the Alerts page and the overview's
	// firing list; nil: the page answers 404.
	Alerts alerts.Store
	// Erasures keeps the erasures of the Erasures page (the metadata
	// store); without it the page answers 404. Eraser, when set, is woken
	// when one is requested (erasure.Runner).
	Erasures erasure.Store
	Eraser   interface{ Wake() }
	// Webhooks checks a rule's webhook as the API does (--webhook-allow);
	// nil: not checked here.
	Webhooks func(ctx context.Context, raw string) error
}

// Console serves the web console.
type Console struct {
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	throttle *throttle
	// summaries answer the overview and the pick-lists.
	summaries *summary.Service
	oidc      *oidcClient
	// reference is the API description as the reference page shows it.
	reference func() (*apidoc.Reference, error)
}

const (
	sessionCookie = "usagelog_session"
	loginCSRF     = "usagelog_login_csrf"
)

// New returns the console.
func New(cfg Config) (*Console, error) {
	if cfg.Meta == nil || cfg.Events == nil {
		return nil, errors.New("console: the meta and events stores are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.FailureWindow <= 0 {
		cfg.FailureWindow = 15 * time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Console{cfg: cfg, log: log, mux: http.NewServeMux(), throttle: newThrottle(cfg.MaxFailures, cfg.FailureWindow, throttleKeys),
		summaries: &summary.Service{Rollups: cfg.Events, Events: cfg.Events}}
	if cfg.APIDescription != nil {
		c.reference = sync.OnceValues(func() (*apidoc.Reference, error) { return apidoc.ReadReference(cfg.APIDescription()) })
	}
	static, _ := fs.Sub(assets, "static")
	c.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	c.mux.HandleFunc("GET /login", c.loginPage)
	c.mux.HandleFunc("POST /login", c.login)
	if cfg.OIDC != nil {
		var err error
		if c.oidc, err = newOIDCClient(*cfg.OIDC, cfg.Secret, cfg.Now); err != nil {
			return nil, err
		}
		c.mux.HandleFunc("GET /login/oidc", c.oidcStart)
		c.mux.HandleFunc("GET /login/oidc/callback", c.oidcCallback)
	}
	c.mux.HandleFunc("POST /logout", c.member(usage.RoleAnalyst, c.logout))
	for _, rt := range routes(c) {
		c.mux.HandleFunc(rt.pattern, c.member(rt.role, rt.h))
	}
	return c, nil
}

type route struct {
	pattern string
	role    usage.Role
	h       memberHandler
}

// routes are the console's pages and the least role that sees each.
func routes(c *Console) []route {
	return []route{
		{"GET /{$}", usage.RoleAnalyst, c.home},
		{"GET /logs", usage.RoleAnalyst, c.logsPage},
		{"GET /logs/rows", usage.RoleAnalyst, c.logsRowsFragment},
		{"GET /export/api-usage", usage.RoleAnalyst, c.apiUsagePage},
		{"GET /export/usage", usage.RoleAnalyst, c.usageExportsPage},
		{"GET /export/download", usage.RoleAnalyst, c.download},
		{"GET /licenses", usage.RoleAdmin, c.licensesPage},
		{"GET /keys", usage.RoleAdmin, c.keysPage},
		{"POST /keys", usage.RoleAdmin, c.createKey},
		{"POST /keys/{id}/revoke", usage.RoleAdmin, c.revokeKey},
		{"GET /settings", usage.RoleAdmin, c.settingsPage},
		{"POST /settings", usage.RoleAdmin, c.saveSettings},
		{"POST /settings/classification", usage.RoleAdmin, c.saveClassification},
		{"POST /settings/redaction", usage.RoleAdmin, c.saveRedaction},
		{"GET /audit", usage.RoleAdmin, c.auditPage},
		{"GET /alerts", usage.RoleAdmin, c.withAlerts(c.alertsPage)},
		{"POST /alerts", usage.RoleAdmin, c.withAlerts(c.createAlert)},
		{"GET /alerts/{id}", usage.RoleAdmin, c.withAlerts(c.alertPage)},
		{"POST /alerts/{id}/delete", usage.RoleAdmin, c.withAlerts(c.deleteAlert)},
		{"GET /audit.csv", usage.RoleAdmin, c.auditCSV},
		{"GET /erasures", usage.RoleAdmin, c.withErasures(c.erasuresPage)},
		{"POST /erasures", usage.RoleAdmin, c.withErasures(c.createErasure)},
		{"GET /erasures/{id}", usage.RoleAdmin, c.withErasures(c.erasurePage)},
		{"GET /api", usage.RoleAnalyst, c.apiReferencePage},
	}
}

// Patterns are the routes the console serves, for mounting on a shared mux.
var Patterns = func() []string {
	out := []string{"GET /static/", "GET /login", "POST /login", "POST /logout", "GET /login/oidc", "GET /login/oidc/callback"}
	for _, rt := range routes(&Console{}) {
		out = append(out, rt.pattern)
	}
	return out
}()

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	c.mux.ServeHTTP(w, r)
}

// viewer is the signed-in member of a request.
type viewer struct {
	Member    usage.Member
	Workspace usage.Workspace
	Session   usage.Session
}

// IsAdmin is for templates.
func (v *viewer) IsAdmin() bool { return v.Member.Role == usage.RoleAdmin }

type memberHandler func(w http.ResponseWriter, r *http.Request, v *viewer)

// member wraps a page that needs a signed-in member of at least role; every
// POST must also carry the session's CSRF token.
func (c *Console) member(role usage.Role, h memberHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := c.viewer(r)
		if err != nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+urlPath(r), http.StatusSeeOther)
				return
			}
			c.errorPage(w, r, nil, http.StatusUnauthorized, "Your session has ended. Sign in again.")
			return
		}
		if r.Method == http.MethodPost {
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(v.Session.CSRF)) != 1 {
				c.errorPage(w, r, v, http.StatusForbidden, "The form was not sent from this console (missing or wrong CSRF token). Reload the page and try again.")
				return
			}
		}
		if role == usage.RoleAdmin && v.Member.Role != usage.RoleAdmin {
			c.errorPage(w, r, v, http.StatusForbidden, "This page is for workspace admins.")
			return
		}
		h(w, r, v)
	}
}

func urlPath(r *http.Request) string {
	return template.URLQueryEscaper(r.URL.Path)
}

// Session returns the member signed in on r, for the API, which the
// console's pages call with the session.
func (c *Console) Session(r *http.Request) (usage.SignedIn, bool) {
	v, err := c.viewer(r)
	if err != nil {
		return usage.SignedIn{}, false
	}
	return usage.SignedIn{Member: v.Member, Workspace: v.Workspace, CSRF: v.Session.CSRF}, true
}

// viewer finds the member behind the session cookie.
func (c *Console) viewer(r *http.Request) (*viewer, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, errors.New("no session")
	}
	ctx := r.Context()
	sess, err := c.cfg.Meta.SessionByHash(ctx, usage.HashToken(ck.Value), c.cfg.Now())
	if err != nil {
		return nil, err
	}
	m, err := c.cfg.Meta.MemberByID(ctx, sess.MemberID)
	if err != nil {
		return nil, err
	}
	ws, err := c.cfg.Meta.WorkspaceByID(ctx, m.WorkspaceID)
	if err != nil {
		return nil, err
	}
	return &viewer{Member: m, Workspace: ws, Session: sess}, nil
}

func (c *Console) render(w http.ResponseWriter, status int, name string, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		c.log.Error("console: render", "page", name, "err", err)
	}
}

func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, v *viewer, status int, msg string) {
	c.render(w, status, "error.html", map[string]any{"Title": http.StatusText(status), "Viewer": v, "Status": status, "Message": msg})
}

// failPage answers err with the status the API would (usage.HTTPStatus):
// its message, or for an internal error a log line and "what is not
// available right now".
func (c *Console) failPage(w http.ResponseWriter, r *http.Request, v *viewer, err error, what string) {
	status, msg := usage.HTTPStatus(err), usage.ErrorMessage(err)
	if usage.ErrorCode(err) == usage.EInternal {
		c.log.Error("console: "+r.URL.Path, "err", err)
		msg = what + " not available right now."
	}
	c.errorPage(w, r, v, status, msg)
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.showLogin(w, r, http.StatusOK, "", "")
}

// showLogin renders the sign-in form with a fresh double-submit CSRF token:
// there is no session yet to hold one.
func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, email, problem string) {
	token := usage.RandomToken(24)
	http.SetCookie(w, &http.Cookie{Name: loginCSRF, Value: token, Path: "/login", HttpOnly: true, Secure: c.cfg.SecureCookies, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	c.render(w, status, "login.html", map[string]any{"Title": "Sign in", "CSRF": token, "Email": email, "Problem": problem, "Next": safeNext(r.FormValue("next")),
		"SSO": c.oidc != nil, "Passwords": c.oidc == nil || !c.cfg.OIDC.Only})
}

// safeNext keeps redirects after sign-in on this site: only a plain path
// (with a query) goes through, else "/". Browsers drop tabs and newlines
// from a Location and read a backslash as a slash, so "/\t/evil.example"
// that Go parses as a path leaves the site: control characters and
// backslashes are refused outright, then whatever is not a path on this
// host to Go's parser.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || len(next) > 2048 {
		return "/"
	}
	for _, c := range []byte(next) {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	return next
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if c.oidc != nil && c.cfg.OIDC.Only {
		c.showLogin(w, r, http.StatusForbidden, "", "Password sign-in is off on this server: sign in with SSO.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	ck, err := r.Cookie(loginCSRF)
	if err != nil || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		c.errorPage(w, r, nil, http.StatusForbidden, "The sign-in form was not sent from this console (missing or wrong CSRF token). Reload the page and try again.")
		return
	}
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	password := r.PostFormValue("password")
	now := c.cfg.Now()
	ip := capture.ClientIP(r, nil) // the peer: X-Forwarded-For is not trusted here
	if wait := c.throttle.try(now, "email:"+email, "ip:"+ip); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		c.showLogin(w, r, http.StatusTooManyRequests, email, fmt.Sprintf("Too many failed sign-ins. Try again in %d minutes.", int(wait.Minutes())+1))
		return
	}
	m, err := c.cfg.Meta.MemberByEmail(r.Context(), email)
	if err != nil && usage.ErrorCode(err) != usage.ENotFound {
		c.log.Error("console: sign in", "err", err)
		c.errorPage(w, r, nil, http.StatusInternalServerError, "Sign-in is not available right now.")
		return
	}
	if !usage.CheckPassword(m.PasswordHash, password) {
		c.log.Info("console: sign-in failed", "email", email, "ip", ip)
		c.auditSignIn(r.Context(), m, email, ip, usage.AuditMemberSignInFailed, map[string]any{"method": "password", "reason": "wrong email or password"})
		c.showLogin(w, r, http.StatusUnauthorized, email, "Wrong email or password.")
		return
	}
	c.throttle.reset("email:" + email)
	c.throttle.forgive(now, "ip:"+ip)
	if err := c.cfg.Audit.Ready(); err != nil {
		c.showLogin(w, r, usage.HTTPStatus(err), email, usage.ErrorMessage(err))
		return
	}
	c.auditSignIn(r.Context(), m, email, ip, usage.AuditMemberSignIn, map[string]any{"method": "password"})
	c.startSession(w, r, m, r.PostFormValue("next"))
}

// startSession signs member m in: a session, its cookie, and the page
// they were going to.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, m usage.Member, next string) {
	now := c.cfg.Now()
	token := usage.RandomToken(32)
	sess := usage.Session{Hash: usage.HashToken(token), MemberID: m.ID, CSRF: usage.RandomToken(24), CreatedAt: now, ExpiresAt: now.Add(c.cfg.SessionTTL)}
	if err := c.cfg.Meta.CreateSession(r.Context(), sess); err != nil {
		c.log.Error("console: create session", "err", err)
		c.errorPage(w, r, nil, http.StatusInternalServerError, "Sign-in is not available right now.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: c.cfg.SecureCookies, SameSite: http.SameSiteLaxMode, Expires: sess.ExpiresAt, MaxAge: int(c.cfg.SessionTTL.Seconds())})
	http.SetCookie(w, &http.Cookie{Name: loginCSRF, Value: "", Path: "/login", MaxAge: -1})
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := c.cfg.Meta.DeleteSession(r.Context(), v.Session.Hash); err != nil {
		c.log.Error("console: sign out", "err", err)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (c *Console) settingsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	st, err := c.cfg.Meta.Settings(r.Context(), v.Workspace.ID)
	if err != nil {
		c.log.Error("console: settings", "err", err)
		c.errorPage(w, r, v, http.StatusInternalServerError, "Settings are not available right now.")
		return
	}
	data := map[string]any{"Title": "Settings", "Viewer": v, "Nav": "settings", "Settings": st, "Saved": r.URL.Query().Get("saved")}
	if !c.addRules(r.Context(), w, r, v, data, "") {
		return
	}
	c.render(w, http.StatusOK, "settings.html", data)
}

// addRules puts the workspace's classification rules into a settings
// page's data, as the text the form edits unless text is given (a
// refused edit); false when they could not be read (the page is answered).
func (c *Console) addRules(ctx context.Context, w http.ResponseWriter, r *http.Request, v *viewer, data map[string]any, text string) bool {
	rules, set, err := c.cfg.Meta.Classification(ctx, v.Workspace.ID)
	if err != nil {
		c.failPage(w, r, v, err, "Settings are")
		return false
	}
	if !set {
		rules = usage.DefaultRules
	}
	if text == "" {
		text = formatRules(rules)
	}
	rc, err := c.cfg.Meta.Reclassification(ctx, v.Workspace.ID)
	if err != nil {
		c.failPage(w, r, v, err, "Settings are")
		return false
	}
	loc := time.UTC
	if st, ok := data["Settings"].(usage.Settings); ok {
		if l, err := usage.LoadLocation(st.Timezone); err == nil {
			loc = l
		}
	}
	data["Rules"], data["RulesDefault"], data["Reclass"] = text, !set, reclassView(rc, loc)
	return c.addRedaction(ctx, w, r, v, data)
}

// redactionForm is the settings page's redaction form: the rules as it
// edits them, one name or pattern a line.
type redactionForm struct {
	Params, Patterns string
	IP               usage.IPMode
	Default          bool
}

// addRedaction puts the workspace's redaction rules into a settings
// page's data, unless a refused edit put its own there; false when they
// could not be read (the page is answered).
func (c *Console) addRedaction(ctx context.Context, w http.ResponseWriter, r *http.Request, v *viewer, data map[string]any) bool {
	if _, ok := data["Redaction"]; ok {
		return true
	}
	red, set, err := c.cfg.Meta.Redaction(ctx, v.Workspace.ID)
	if err != nil {
		c.failPage(w, r, v, err, "Settings are")
		return false
	}
	data["Redaction"] = redactionForm{Params: strings.Join(red.QueryParams, "\n"), Patterns: strings.Join(red.PathPatterns, "\n"), IP: red.IP, Default: !set}
	return true
}

// formLines are a textarea's lines, trimmed, blank ones left out.
func formLines(text string) []string {
	out := []string{}
	for line := range strings.SplitSeq(text, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// saveRedaction saves the settings page's redaction rules, or goes back
// to the defaults. They apply to the events captured after it, within
// ingest.DefaultRulesTTL on every replica.
func (c *Console) saveRedaction(w http.ResponseWriter, r *http.Request, v *viewer) {
	form := redactionForm{Params: r.PostFormValue("query_params"), Patterns: r.PostFormValue("path_patterns"), IP: usage.IPMode(r.PostFormValue("ip"))}
	var save *usage.Redaction
	if r.PostFormValue("defaults") != "on" {
		red := usage.Redaction{QueryParams: formLines(form.Params), PathPatterns: formLines(form.Patterns), IP: form.IP}
		if err := red.Validate(); err != nil {
			st, serr := c.cfg.Meta.Settings(r.Context(), v.Workspace.ID)
			if serr != nil {
				c.failPage(w, r, v, serr, "Settings are")
				return
			}
			data := map[string]any{"Title": "Settings", "Viewer": v, "Nav": "settings", "Settings": st, "Redaction": form,
				"RedactionProblems": []string{usage.ErrorMessage(err) + "."}}
			if c.addRules(r.Context(), w, r, v, data, "") {
				c.render(w, http.StatusBadRequest, "settings.html", data)
			}
			return
		}
		save = &red
	}
	if err := c.cfg.Audit.Ready(); err != nil {
		c.failPage(w, r, v, err, "Redaction rules are")
		return
	}
	if err := c.cfg.Meta.SaveRedaction(r.Context(), v.Workspace.ID, save); err != nil {
		c.failPage(w, r, v, err, "Redaction rules are")
		return
	}
	shown := usage.DefaultRedaction()
	if save != nil {
		shown = *save
	}
	if err := c.audit(r, v, usage.AuditRedactionUpdate, "redaction", shown.AuditDetails(save == nil)); err != nil {
		c.failPage(w, r, v, err, "Redaction rules are")
		return
	}
	http.Redirect(w, r, "/settings?saved=redaction#redaction", http.StatusSeeOther)
}

// reclassNote is what the settings page says of the stored calls'
// reclassification.
type reclassNote struct {
	State       string
	Done, Total int64
	Percent     int64
	Changed     int64
	Finished    string
	Error       string
}

func reclassView(r usage.Reclassification, loc *time.Location) reclassNote {
	n := reclassNote{State: r.State(), Done: r.Done, Total: r.Total, Changed: r.Changed, Error: r.Error}
	if r.Total > 0 {
		n.Percent = min(100, r.Done*100/r.Total)
	}
	if !r.FinishedAt.IsZero() {
		n.Finished = r.FinishedAt.In(loc).Format("2 Jan 2006 15:04 MST")
	}
	return n
}

// formatRules writes rules as the settings form edits them: one a line,
// "URL prefix | User-Agent prefix | system | usage type".
func formatRules(rules []usage.Rule) string {
	var b strings.Builder
	for _, r := range rules {
		fmt.Fprintf(&b, "%s | %s | %s | %s\n", r.URLPrefix, r.UserAgentPrefix, r.System, r.UsageType)
	}
	return b.String()
}

// parseRules reads the settings form's rules: one a line, blank lines
// and lines starting with # skipped; problems name their line.
func parseRules(text string) ([]usage.Rule, []string) {
	rules := []usage.Rule{}
	var problems []string
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 4 {
			problems = append(problems, fmt.Sprintf("Line %d: want 4 fields separated by |, not %d.", i+1, len(f)))
			continue
		}
		for j := range f {
			f[j] = strings.TrimSpace(f[j])
		}
		r := usage.Rule{URLPrefix: f[0], UserAgentPrefix: f[1], System: f[2], UsageType: usage.Type(f[3])}
		if err := r.Validate(); err != nil {
			problems = append(problems, fmt.Sprintf("Line %d: %s.", i+1, usage.ErrorMessage(err)))
			continue
		}
		rules = append(rules, r)
	}
	if len(rules) > usage.MaxRules {
		problems = append(problems, fmt.Sprintf("%d rules: at most %d.", len(rules), usage.MaxRules))
	}
	return rules, problems
}

// saveClassification saves the settings page's rules, or goes back to
// the defaults.
func (c *Console) saveClassification(w http.ResponseWriter, r *http.Request, v *viewer) {
	var rules []usage.Rule
	text := r.PostFormValue("rules")
	if r.PostFormValue("defaults") != "on" {
		var problems []string
		if rules, problems = parseRules(text); len(problems) > 0 {
			st, err := c.cfg.Meta.Settings(r.Context(), v.Workspace.ID)
			if err != nil {
				c.failPage(w, r, v, err, "Settings are")
				return
			}
			data := map[string]any{"Title": "Settings", "Viewer": v, "Nav": "settings", "Settings": st, "RuleProblems": problems}
			if c.addRules(r.Context(), w, r, v, data, text) {
				c.render(w, http.StatusBadRequest, "settings.html", data)
			}
			return
		}
	}
	if err := c.cfg.Audit.Ready(); err != nil {
		c.failPage(w, r, v, err, "Classification rules are")
		return
	}
	if err := c.cfg.Meta.SaveClassification(r.Context(), v.Workspace.ID, rules); err != nil {
		c.failPage(w, r, v, err, "Classification rules are")
		return
	}
	if err := c.audit(r, v, usage.AuditClassificationUpdate, "classification", map[string]any{"rules": rules, "default": rules == nil}); err != nil {
		c.failPage(w, r, v, err, "Classification rules are")
		return
	}
	if err := c.cfg.Meta.RequestReclassification(r.Context(), v.Workspace.ID, c.cfg.Now()); err != nil {
		c.failPage(w, r, v, err, "Classification rules are")
		return
	}
	if c.cfg.Reclassifier != nil {
		c.cfg.Reclassifier.Wake()
	}
	http.Redirect(w, r, "/settings?saved=rules#classification", http.StatusSeeOther)
}

func (c *Console) saveSettings(w http.ResponseWriter, r *http.Request, v *viewer) {
	st := usage.Settings{
		AnonymizeUsers: r.PostFormValue("anonymize_users") == "on",
		AnonymizeIPs:   r.PostFormValue("anonymize_ips") == "on",
		Timezone:       strings.TrimSpace(r.PostFormValue("timezone")),
	}
	var problems []string
	if _, err := usage.LoadLocation(st.Timezone); err != nil || st.Timezone == "" {
		problems = append(problems, fmt.Sprintf("Timezone %q is not an IANA timezone name such as Europe/Berlin.", st.Timezone))
	}
	if s := strings.TrimSpace(r.PostFormValue("export_row_limit")); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			problems = append(problems, fmt.Sprintf("Export row limit %q must be a whole number, 0 for the server default.", s))
		}
		st.ExportRowLimit = n
	}
	if s := strings.TrimSpace(r.PostFormValue("retention_days")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > usage.MaxRetentionDays {
			problems = append(problems, fmt.Sprintf("Keep events %q days: a whole number from 0 (forever) to %d.", s, usage.MaxRetentionDays))
		}
		st.RetentionDays = n
	}
	if len(problems) > 0 {
		data := map[string]any{"Title": "Settings", "Viewer": v, "Nav": "settings", "Settings": st, "Problems": problems}
		if c.addRules(r.Context(), w, r, v, data, "") {
			c.render(w, http.StatusBadRequest, "settings.html", data)
		}
		return
	}
	before, err := c.cfg.Meta.Settings(r.Context(), v.Workspace.ID)
	if err == nil {
		err = c.cfg.Audit.Ready()
	}
	if err == nil {
		err = c.cfg.Meta.SaveSettings(r.Context(), v.Workspace.ID, st)
	}
	if err == nil {
		err = c.audit(r, v, usage.AuditSettingsUpdate, "settings", usage.SettingsChanges(before, st))
	}
	if err != nil {
		c.failPage(w, r, v, err, "Saving settings is")
		return
	}
	http.Redirect(w, r, "/settings?saved=settings", http.StatusSeeOther)
}

// throttle counts failed sign-ins per email and per address.
type throttle struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	// fails are each key's failures, newest last. It holds at most
	// throttleKeys keys: a spray of addresses pushes out the keys that
	// failed longest ago, one at a time, and never every lock at once.
	fails *lru.Cache[string, []time.Time]
}

// throttleKeys bounds the emails and addresses the throttle remembers.
const throttleKeys = 100_000

func newThrottle(max int, window time.Duration, keys int) *throttle {
	fails, err := lru.New[string, []time.Time](keys)
	if err != nil {
		panic(fmt.Sprintf("console: throttle of %d keys: %v", keys, err)) // only a size below 1 fails
	}
	return &throttle{max: max, window: window, fails: fails}
}

// try is a sign-in attempt for keys, checked and counted in one step: it
// returns how long one of them stays locked, or counts the attempt as a
// failure of each, to be forgiven if it succeeds. Checking first and
// counting after the password check let 30 parallel attempts all through.
func (t *throttle) try(now time.Time, keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		recent := t.recent(now, k)
		if len(recent) >= t.max {
			wait = max(wait, recent[len(recent)-t.max].Add(t.window).Sub(now))
		}
	}
	if wait == 0 {
		for _, k := range keys {
			t.fails.Add(k, append(t.recent(now, k), now))
		}
	}
	return wait
}

// forgive takes back key's failure counted at now by try.
func (t *throttle) forgive(now time.Time, key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := t.recent(now, key)
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Equal(now) {
			t.fails.Add(key, slices.Delete(slices.Clone(list), i, i+1))
			return
		}
	}
}

func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fails.Remove(key)
}

// recent returns key's failures within the window, forgetting the key
// when none are; t.mu is held.
func (t *throttle) recent(now time.Time, key string) []time.Time {
	list, _ := t.fails.Peek(key)
	i := 0
	for i < len(list) && now.Sub(list[i]) >= t.window {
		i++
	}
	if i == len(list) {
		t.fails.Remove(key)
		return nil
	}
	return list[i:]
}

// thousands writes n with comma separators: 12,345.
func thousands(n any) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
