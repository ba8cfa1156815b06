package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/audit"
	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/jobs"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// TestAuditLog does each audited action through the API and reads the
// log back: every action with its actor, target, address and details;
// the filters and pages of GET /api/v1/audit.
func TestAuditLog(t *testing.T) {
	var log *audit.Log
	h := newJobHarness(t, 0, func(c *jobs.RunnerConfig) {
		var err error
		if log, err = audit.New(audit.Config{Store: c.Meta.(usage.AuditStore), FlushEvery: 5 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		c.Audit = log
	})
	ctx := context.Background()
	if _, err := h.store.Append(ctx, h.ws.ID, append(storetest.Fixture(200), storetest.ActivityFixture()...)); err != nil {
		t.Fatal(err)
	}
	admin := h.key(h.ws, usage.ScopeWorkspaceAdmin)
	all := h.key(h.ws, usage.ScopeLogsRead, usage.ScopeUsageExportAPI, usage.ScopeServerMgmtRead)
	do := func(method, path, token, body string, want int) []byte {
		t.Helper()
		r := h.do(method, path, token, "application/json", strings.NewReader(body))
		if r.status != want {
			t.Fatalf("%s %s: %d %s", method, path, r.status, r.body)
		}
		return r.body
	}
	body := do("POST", "/api/v1/keys", admin, `{"name":"reporting <bot>","scopes":["LOGS_READ"]}`, 201)
	keyID := strings.Split(strings.Split(string(body), `"id":"`)[1], `"`)[0]
	do("DELETE", "/api/v1/keys/"+keyID, admin, "", 204)
	do("PATCH", "/api/v1/workspace/settings", admin, `{"timezone":"Europe/Berlin"}`, 200)
	do("PUT", "/api/v1/workspace/classification", admin, `{"rules":[{"url_prefix":"/v2/","system":"Shop","usage_type":"other"}]}`, 200)
	do("POST", "/api/v1/collections", admin, `{"name":"Orders","type":"proxy"}`, 201)
	do("PATCH", "/api/v1/collections/Orders", admin, `{"active":false}`, 200)
	body = do("POST", "/api/v1/clients", admin, `{"name":"Mobile","collection":"Orders"}`, 201)
	clientID := strings.Split(strings.Split(string(body), `"id":"`)[1], `"`)[0]
	do("DELETE", "/api/v1/clients/"+clientID, admin, "", 204)
	body = do("POST", "/api/v1/schedules", all, `{"name":"n","report":"api-logs","range":"previous_day","cadence":{"every":"daily","at":"06:00","timezone":"UTC"}}`, 201)
	schID := strings.Split(strings.Split(string(body), `"id":"`)[1], `"`)[0]
	do("DELETE", "/api/v1/schedules/"+schID, all, "", 204)
	do("GET", "/api/v1/exports/api-usage?format=csv&community=Community+1", all, "", 200)
	do("POST", "/export/users", all, `{"from":{"date":"2026-03-01","timezone":"UTC"},"to":{"date":"2026-03-31","timezone":"UTC"}}`, 200)
	do("GET", "/export/usage-reports", all, "", 200)
	job := h.submit(all, `{"report":"api-logs","format":"csv"}`)
	job = h.wait(all, job.ID, final)
	h.download(job.DownloadURL)

	var entries []usage.AuditEntry
	waitUntil(t, func() bool {
		var err error
		entries, err = h.store.Audit(ctx, h.ws.ID, usage.AuditQuery{})
		return err == nil && len(entries) >= 15
	}, func() string { return fmt.Sprint(len(entries), " entries: ", actions(entries)) })
	by := map[string][]usage.AuditEntry{}
	for _, e := range entries {
		by[e.Action] = append(by[e.Action], e)
	}
	for action, n := range map[string]int{
		usage.AuditKeyCreate: 1, usage.AuditKeyRevoke: 1, usage.AuditSettingsUpdate: 1, usage.AuditClassificationUpdate: 1,
		usage.AuditCollectionUpdate: 2, usage.AuditClientCreate: 1, usage.AuditClientRevoke: 1, usage.AuditScheduleCreate: 1,
		usage.AuditScheduleDelete: 1, usage.AuditExportCreate: 4, usage.AuditExportDownload: 1,
	} {
		if len(by[action]) != n {
			t.Errorf("%s: %d entries, want %d", action, len(by[action]), n)
		}
	}
	k := by[usage.AuditKeyCreate][0]
	if k.Actor.Type != usage.ActorKey || k.Actor.ID == "" || k.Target != keyID || k.IP != "127.0.0.1" || k.Details["name"] != "reporting <bot>" {
		t.Errorf("key.create: %+v", k)
	}
	if s := by[usage.AuditSettingsUpdate][0]; fmt.Sprint(s.Details["timezone"]) != "map[from:UTC to:Europe/Berlin]" {
		t.Errorf("settings.update details: %v", s.Details)
	}
	vias := map[string]map[string]any{}
	for _, e := range by[usage.AuditExportCreate] {
		vias[fmt.Sprint(e.Details["via"], " ", e.Details["report"])] = e.Details
	}
	if d := vias["download api-usage"]; d == nil || d["rows"] == nil || fmt.Sprint(d["filters"]) != "map[community:[Community 1]]" {
		t.Errorf("the synchronous export: %v (all: %v)", d, vias)
	}
	if d := vias["job api-logs"]; d == nil || d["rows"] != float64(*job.RecordCount) || d["status"] != "succeeded" {
		t.Errorf("the job: %v", d)
	}
	if vias["usage export API users"] == nil || vias["download usage-reports"] == nil {
		t.Errorf("exports: %v", vias)
	}
	if d := by[usage.AuditExportDownload][0]; d.Actor.Type != usage.ActorSystem || d.Target != job.FilePath {
		t.Errorf("download: %+v", d)
	}

	// The API: newest first, pages, filters.
	var got []usage.AuditEntry
	path := "/api/v1/audit?limit=5"
	for range 10 {
		var page struct {
			Items []usage.AuditEntry `json:"items"`
			Next  string             `json:"next_cursor"`
		}
		r := h.do("GET", path, admin, "", nil)
		if err := json.Unmarshal(r.body, &page); err != nil || r.status != 200 {
			t.Fatalf("audit page: %d %s", r.status, r.body)
		}
		got = append(got, page.Items...)
		if page.Next == "" {
			break
		}
		path = "/api/v1/audit?limit=5&cursor=" + page.Next
	}
	if len(got) != len(entries) || got[0].ID != entries[0].ID {
		t.Errorf("pages: %d entries, want %d", len(got), len(entries))
	}
	r := h.do("GET", "/api/v1/audit?action=export.create&from="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), admin, "", nil)
	if n := strings.Count(string(r.body), `"action":"export.create"`); n != 4 || strings.Contains(string(r.body), "key.create") {
		t.Errorf("action filter: %d entries: %s", n, r.body)
	}
	for _, bad := range []string{"action=export.delete", "from=yesterday", "limit=0", "colour=red"} {
		if r := h.do("GET", "/api/v1/audit?"+bad, admin, "", nil); r.status != 400 {
			t.Errorf("%s: %d", bad, r.status)
		}
	}
	if r := h.do("GET", "/api/v1/audit", all, "", nil); r.status != 403 {
		t.Errorf("without WORKSPACE_ADMIN: %d", r.status)
	}
}

// downStore refuses every write.
type downStore struct{}

func (downStore) AppendAudit(context.Context, []usage.AuditEntry) error {
	return errors.New("disk full")
}
func (downStore) Audit(context.Context, int64, usage.AuditQuery) ([]usage.AuditEntry, error) {
	return nil, nil
}
func (downStore) PurgeAudit(context.Context, time.Time) (int64, error) { return 0, nil }

// TestAuditDownRefusesActions: while the audit log cannot be written, an
// audited action is refused (503) and not done.
func TestAuditDownRefusesActions(t *testing.T) {
	log, err := audit.New(audit.Config{Store: downStore{}, FlushEvery: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, 0, func(c *httpapi.Config) { c.Audit = log })
	log.Record(usage.AuditEntry{WorkspaceID: h.ws.ID, Action: usage.AuditKeyCreate}) // the write that finds the store down
	waitUntil(t, func() bool { return log.Ready() != nil })
	admin := h.key(h.ws, usage.ScopeWorkspaceAdmin)
	r := h.do("POST", "/api/v1/keys", admin, "application/json", strings.NewReader(`{"name":"x","scopes":["LOGS_READ"]}`))
	if r.status != 503 {
		t.Errorf("create a key with the audit log down: %d %s", r.status, r.body)
	}
	if keys, _ := h.store.Keys(context.Background(), h.ws.ID); len(keys) != 1 {
		t.Errorf("%d keys, want only the admin's", len(keys))
	}
	// Ingest is not audited: it goes on.
	writer := h.key(h.ws, usage.ScopeEventsWrite)
	if r := h.do("POST", "/api/v1/events", writer, "application/x-ndjson", strings.NewReader(ndjson(t, storetest.Fixture(3)))); r.status != 200 {
		t.Errorf("ingest with the audit log down: %d", r.status)
	}
}

func waitUntil(t *testing.T, ok func() bool, why ...func() string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			msg := "timed out"
			for _, w := range why {
				msg += ": " + w()
			}
			t.Fatal(msg)
		}
	}
}

func actions(entries []usage.AuditEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Action)
	}
	return out
}
