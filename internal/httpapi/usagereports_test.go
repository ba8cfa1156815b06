package httpapi_test

import (
	"archive/zip"
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/console"
	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// TestUsageReportsAccess: a key with SERVER_MANAGEMENT_READ or an admin's
// console session gets the zip; a key without the scope and an analyst's
// session get 403; nobody gets 401.
func TestUsageReportsAccess(t *testing.T) {
	var con *console.Console
	h := newHarness(t, 0, func(c *httpapi.Config) {
		c.Session = func(r *http.Request) (usage.SignedIn, bool) { return con.Session(r) }
		c.Now = func() time.Time { return storetest.ReportsNow }
	})
	ctx := context.Background()
	var err error
	if con, err = console.New(console.Config{Meta: h.store, Events: h.store}); err != nil {
		t.Fatal(err)
	}
	h.store.Append(ctx, h.ws.ID, storetest.ReportsFixture())
	session := func(role usage.Role) string {
		m := usage.Member{ID: usage.RandomID("m_", 8), WorkspaceID: h.ws.ID, Email: string(role) + "@example.com", Role: role, CreatedAt: time.Now()}
		if err := h.store.CreateMember(ctx, m); err != nil {
			t.Fatal(err)
		}
		token := usage.RandomToken(32)
		if err := h.store.CreateSession(ctx, usage.Session{Hash: usage.HashToken(token), MemberID: m.ID, CSRF: "x", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		return token
	}
	withCookie := func(token string) response {
		req, _ := http.NewRequest("GET", h.url+"/export/usage-reports", nil)
		req.AddCookie(&http.Cookie{Name: "usagelog_session", Value: token})
		resp, body := get2(t, req)
		return response{status: resp.StatusCode, header: resp.Header, body: body}
	}
	for name, tt := range map[string]struct {
		r    func() response
		want int
	}{
		"key with the scope": {func() response {
			return h.do("GET", "/export/usage-reports", h.key(h.ws, usage.ScopeServerMgmtRead), "", nil)
		}, 200},
		"key without the scope": {func() response {
			return h.do("GET", "/export/usage-reports", h.key(h.ws, usage.ScopeLogsRead, usage.ScopeUsageExportAPI), "", nil)
		}, 403},
		"admin session":   {func() response { return withCookie(session(usage.RoleAdmin)) }, 200},
		"analyst session": {func() response { return withCookie(session(usage.RoleAnalyst)) }, 403},
		"stale cookie":    {func() response { return withCookie("nope") }, 401},
		"nothing":         {func() response { return h.do("GET", "/export/usage-reports", "", "", nil) }, 401},
	} {
		t.Run(name, func(t *testing.T) {
			r := tt.r()
			if r.status != tt.want {
				t.Fatalf("%d %s, want %d", r.status, r.body, tt.want)
			}
			if r.status != 200 {
				return
			}
			if r.header.Get("Content-Type") != "application/zip" || r.header.Get("Content-Disposition") != `attachment; filename="Usage Reports.zip"` {
				t.Errorf("headers %v", r.header)
			}
			zr, err := zip.NewReader(bytes.NewReader(r.body), int64(len(r.body)))
			if err != nil || len(zr.File) != 2 || zr.File[0].Name != "Usage Report (Last 6 Months).xlsx" || zr.File[1].Name != "Usage Report (Last 1 Year).xlsx" {
				t.Errorf("zip: %v", err)
			}
		})
	}
}

func get2(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.Bytes()
}
