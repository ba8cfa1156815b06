package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/console"
	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/usage"
)

// TestConsoleSessionCallsAPI: the console's pages call the API with the
// member's session instead of a key, with the role's scopes, and unsafe
// methods need the session's CSRF token.
func TestConsoleSessionCallsAPI(t *testing.T) {
	var con *console.Console
	h := newHarness(t, 0, func(c *httpapi.Config) {
		c.Session = func(r *http.Request) (usage.SignedIn, bool) { return con.Session(r) }
	})
	var err error
	if con, err = console.New(console.Config{Meta: h.store, Events: h.store}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	session := func(role usage.Role) string {
		m := usage.Member{ID: usage.RandomID("m_", 8), WorkspaceID: h.ws.ID, Email: string(role) + "@example.com", Role: role, CreatedAt: time.Now()}
		if err := h.store.CreateMember(ctx, m); err != nil {
			t.Fatal(err)
		}
		token := usage.RandomToken(32)
		if err := h.store.CreateSession(ctx, usage.Session{Hash: usage.HashToken(token), MemberID: m.ID, CSRF: "csrf-" + string(role), CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		return token
	}
	analyst, admin := session(usage.RoleAnalyst), session(usage.RoleAdmin)
	call := func(method, path, cookie, csrf, body string) int {
		req, _ := http.NewRequest(method, h.url+path, strings.NewReader(body))
		req.AddCookie(&http.Cookie{Name: "usagelog_session", Value: cookie})
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name, method, path, cookie, csrf, body string
		want                                   int
	}{
		{"analyst reads logs", "GET", "/api/v1/logs", analyst, "", "", 200},
		{"analyst downloads the log CSV", "GET", "/api/v1/exports/api-logs?format=csv", analyst, "", "", 200},
		{"analyst lists keys", "GET", "/api/v1/keys", analyst, "", "", 403},
		{"admin lists keys", "GET", "/api/v1/keys", admin, "", "", 200},
		{"admin creates a key without CSRF", "POST", "/api/v1/keys", admin, "", `{"name":"k","scopes":["LOGS_READ"]}`, 403},
		{"admin creates a key with another session's CSRF", "POST", "/api/v1/keys", admin, "csrf-analyst", `{"name":"k","scopes":["LOGS_READ"]}`, 403},
		{"admin creates a key with CSRF", "POST", "/api/v1/keys", admin, "csrf-admin", `{"name":"k","scopes":["LOGS_READ"]}`, 201},
		{"a stale cookie is no session", "GET", "/api/v1/logs", "stale", "", "", 401},
	}
	for _, tt := range tests {
		if got := call(tt.method, tt.path, tt.cookie, tt.csrf, tt.body); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
