package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/signedurl"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// seedBody is the seed 001 example body, dates changed to March 2026 in New
// York.
const seedBody = `{
  "from": {"date": "2026-03-01T00:00:00.000Z", "timezone": "America/New_York"},
  "to":   {"date": "2026-03-31T23:59:59.999Z", "timezone": "America/New_York"}
}`

// wantUsage is every export of storetest.ActivityFixture for seedBody,
// worked out by hand (see the fixture's comment).
var wantUsage = map[string][][]string{
	"users": {
		{"User ID", "Name", "Email", "Messages", "Active Days", "First Activity", "Last Activity", "Assistants Used", "Models Used", "Features Used"},
		{"u2", "'@Bob", "bob@example.com", "10", "3", "2026-03-05T07:00:00-05:00", "2026-03-31T23:30:00-04:00", "1", "claude; gpt-4o", "api; chat"},
		{"u1", "Ada Lovelace", "ada@example.com", "6", "2", "2026-03-01T10:00:00-05:00", "2026-03-02T10:00:00-05:00", "1", "claude; gpt-4o", "agent; chat; workflow"},
		{"u3", "Cy <b>", "", "1", "1", "2026-03-10T09:00:00-04:00", "2026-03-10T09:00:00-04:00", "0", "", "workflow"},
	},
	"assistants": {
		{"Assistant ID", "Assistant", "Messages", "Unique Users", "Last Used"},
		{"as1", "Writer", "5", "1", "2026-03-01T22:00:00-05:00"},
		{"as2", "Coder", "5", "1", "2026-03-31T23:30:00-04:00"},
	},
	"workflows": {
		{"Workflow ID", "Workflow", "Runs", "Unique Users", "Last Run"},
		{"wf1", "Digest", "2", "2", "2026-03-10T09:00:00-04:00"},
	},
	"projects": {
		{"Project ID", "Project", "Messages", "Unique Users", "Last Activity"},
		{"p1", "Apollo", "7", "2", "2026-03-05T07:00:00-05:00"},
	},
	"models": {
		{"Model", "Messages", "Input Tokens", "Output Tokens", "Unique Users"},
		{"gpt-4o", "9", "1100", "2200", "2"},
		{"claude", "7", "60", "80", "2"},
	},
	"api-keys": {
		{"API Key", "Messages", "Unique Users", "Last Used"},
		{"CI key", "5", "1", "2026-03-10T08:00:00-04:00"},
	},
}

type exportAnswer struct {
	Success bool `json:"success"`
	Data    struct {
		FilePath    string            `json:"filePath"`
		DownloadURL string            `json:"downloadUrl"`
		DataType    string            `json:"dataType"`
		RecordCount int               `json:"recordCount"`
		DateRange   map[string]string `json:"dateRange"`
	} `json:"data"`
}

func (h *harness) usageExport(token, dataType, body string) (response, exportAnswer) {
	h.t.Helper()
	r := h.do("POST", "/export/"+dataType, token, "application/json", strings.NewReader(body))
	var a exportAnswer
	if r.status == 200 {
		if err := json.Unmarshal(r.body, &a); err != nil {
			h.t.Fatalf("answer: %v: %s", err, r.body)
		}
	}
	return r, a
}

func get(t *testing.T, u string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestUsageExports(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	if _, err := h.store.Append(ctx, h.ws.ID, storetest.ActivityFixture()); err != nil {
		t.Fatal(err)
	}
	token := h.key(h.ws, usage.ScopeUsageExportAPI)
	for _, dataType := range []string{"users", "assistants", "agents", "workflows", "projects", "models", "api-keys"} {
		t.Run(dataType, func(t *testing.T) {
			canonical := dataType
			if dataType == "agents" {
				canonical = "assistants"
			}
			want := wantUsage[canonical]
			r, a := h.usageExport(token, dataType, seedBody)
			if r.status != 200 || !a.Success || a.Data.DataType != canonical || a.Data.RecordCount != len(want)-1 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			pathRE := fmt.Sprintf(`^%s-usage/%d/%s-usage-2026-03-01-2026-03-31-[0-9a-f]{8}\.csv$`, canonical, h.ws.ID, canonical)
			if !regexp.MustCompile(pathRE).MatchString(a.Data.FilePath) {
				t.Errorf("filePath %q does not match %s", a.Data.FilePath, pathRE)
			}
			wantRange := map[string]string{"from": "2026-03-01T00:00:00.000-05:00", "to": "2026-03-31T23:59:59.999-04:00", "timezone": "America/New_York"}
			if !reflect.DeepEqual(a.Data.DateRange, wantRange) {
				t.Errorf("dateRange %v, want %v", a.Data.DateRange, wantRange)
			}
			if !strings.HasPrefix(a.Data.DownloadURL, h.url+"/files/"+a.Data.FilePath+"?") {
				t.Errorf("downloadUrl %q is not an absolute link to the file", a.Data.DownloadURL)
			}
			// Follow the link, with no key: the signature is the authority.
			resp, body := get(t, a.Data.DownloadURL)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
				t.Fatalf("download: %d %s", resp.StatusCode, body)
			}
			if got := readCSV(t, body); !reflect.DeepEqual(got, want) {
				t.Errorf("rows\n%q\nwant\n%q", got, want)
			}
		})
	}

	// JSON instead of CSV.
	r := h.do("POST", "/export/models?format=json", token, "application/json", strings.NewReader(seedBody))
	var a exportAnswer
	json.Unmarshal(r.body, &a)
	if r.status != 200 || !strings.HasSuffix(a.Data.FilePath, ".json") {
		t.Fatalf("json export: %d %s", r.status, r.body)
	}
	_, body := get(t, a.Data.DownloadURL)
	var rows []map[string]any
	if err := json.Unmarshal(body, &rows); err != nil || len(rows) != 2 || rows[0]["model"] != "gpt-4o" || rows[0]["input_tokens"] != float64(1100) {
		t.Errorf("json rows %s (%v)", body, err)
	}

	// A Range request gets part of the file.
	r2, a2 := h.usageExport(token, "users", seedBody)
	if r2.status != 200 {
		t.Fatal(r2.status)
	}
	resp, part := get(t, a2.Data.DownloadURL, "Range", "bytes=0-6")
	if resp.StatusCode != http.StatusPartialContent || string(part) != "User ID" {
		t.Errorf("range: %d %q", resp.StatusCode, part)
	}
}

func TestUsageExportValidation(t *testing.T) {
	h := newHarness(t, 0, func(c *httpapi.Config) {
		c.MaxRangeDays = 31
		c.RateLimits = httpapi.RateLimits{Ingest: 1000, Reads: 1000, Exports: 1000}
	})
	token := h.key(h.ws, usage.ScopeUsageExportAPI)
	logsOnly := h.key(h.ws, usage.ScopeLogsRead)
	bound := func(date, tz string) string { return fmt.Sprintf(`{"date":%q,"timezone":%q}`, date, tz) }
	body := func(from, to string) string { return `{"from":` + from + `,"to":` + to + `}` }
	ok := bound("2026-03-01", "UTC")
	for _, tt := range []struct {
		name, dataType, body string
		status               int
		msg                  string
	}{
		{"no from", "users", `{"to":` + ok + `}`, 400, `field "from" is required`},
		{"no to.date", "users", body(ok, `{"timezone":"UTC"}`), 400, `field "to.date" is required`},
		{"no timezone", "users", body(`{"date":"2026-03-01"}`, ok), 400, `field "from.timezone" is required`},
		{"bad timezone", "users", body(bound("2026-03-01", "Mars/Base"), ok), 400, `field "from.timezone": unknown timezone "Mars/Base"`},
		{"bad date", "users", body(bound("March 1st", "UTC"), ok), 400, `field "from.date": "March 1st" is not an ISO 8601 date`},
		{"wrong type", "users", `{"from":{"date":20260301,"timezone":"UTC"},"to":` + ok + `}`, 400, `"from.date"`},
		{"from after to", "users", body(bound("2026-03-10", "UTC"), bound("2026-03-01", "UTC")), 400, "is after"},
		{"range too long", "users", body(bound("2026-01-01", "UTC"), bound("2026-03-01", "UTC")), 422, "over the limit of 31 days"},
		{"unknown type", "chats", body(ok, ok), 404, `unknown data type "chats"`},
		{"not json", "users", `from=2026`, 400, "invalid JSON"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := h.usageExport(token, tt.dataType, tt.body)
			if r.status != tt.status || !strings.Contains(errorMessage(t, r), tt.msg) {
				t.Errorf("%d %s, want %d with %q", r.status, r.body, tt.status, tt.msg)
			}
		})
	}
	// A seed client may send more than the API needs: fields it does not
	// know are ignored, in the body and in its bounds.
	if r, a := h.usageExport(token, "users", `{"from":{"date":"2026-03-01","timezone":"UTC","note":1},"to":`+ok+`,"format":"csv","extra":{"a":[1]}}`); r.status != 200 || a.Data.DateRange["from"] != "2026-03-01T00:00:00.000Z" {
		t.Errorf("unknown fields: %d %s", r.status, r.body)
	}
	// ISO 8601 with an offset is the instant it names; the basic form is
	// taken too.
	r, a := h.usageExport(token, "users", body(bound("2026-03-01T00:00:00+01:00", "UTC"), bound("20260302T000000Z", "UTC")))
	if want := map[string]string{"from": "2026-02-28T23:00:00.000Z", "to": "2026-03-02T00:00:00.000Z", "timezone": "UTC"}; r.status != 200 || !reflect.DeepEqual(a.Data.DateRange, want) {
		t.Errorf("offset and basic dates: %d %s, dateRange %v, want %v", r.status, r.body, a.Data.DateRange, want)
	}
	if r, _ := h.usageExport(logsOnly, "users", body(ok, ok)); r.status != 403 || !strings.Contains(string(r.body), "USAGE_EXPORT_API") {
		t.Errorf("without the scope: %d %s", r.status, r.body)
	}
	if r := h.do("POST", "/export/users?format=pdf", token, "", strings.NewReader(body(ok, ok))); r.status != 400 {
		t.Errorf("format=pdf: %d", r.status)
	}
}

// TestSignedDownloads: a link works as signed and only so — tampered
// path, expiry or signature is 403, an expired link 410, another
// workspace's file is unreachable, and no path leaves the export folder.
func TestSignedDownloads(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := newHarness(t, 0, func(c *httpapi.Config) { c.Now = clock })
	ctx := context.Background()
	h.store.Append(ctx, h.ws.ID, storetest.ActivityFixture())
	token := h.key(h.ws, usage.ScopeUsageExportAPI)
	_, a := h.usageExport(token, "users", seedBody)
	link, err := url.Parse(a.Data.DownloadURL)
	if err != nil || link.Query().Get("signature") == "" || link.Query().Get("expires") == "" {
		t.Fatalf("link %q", a.Data.DownloadURL)
	}
	if resp, _ := get(t, link.String()); resp.StatusCode != 200 {
		t.Fatalf("good link: %d", resp.StatusCode)
	}
	q := link.Query()
	tamper := func(path, expires, sig string) string {
		return h.url + "/files/" + path + "?" + url.Values{"expires": {expires}, "signature": {sig}}.Encode()
	}
	exp, sig := q.Get("expires"), q.Get("signature")
	other := strings.Replace(a.Data.FilePath, "users-usage-", "models-usage-", 1)
	flipped := []byte(sig)
	flipped[0] ^= 1
	if flipped[0] > 'f' || (flipped[0] > '9' && flipped[0] < 'a') {
		flipped[0] = '0'
	}
	for name, u := range map[string]string{
		"other path":       tamper(other, exp, sig),
		"later expiry":     tamper(a.Data.FilePath, fmt.Sprint(now.Add(time.Hour).Unix()), sig),
		"changed sig":      tamper(a.Data.FilePath, exp, string(flipped)),
		"no sig":           h.url + "/files/" + a.Data.FilePath,
		"traversal":        tamper("..%2F..%2Fusagelog.db", exp, sig),
		"encoded dotdot":   h.url + "/files/%2e%2e/%2e%2e/secret?expires=" + exp + "&signature=" + sig,
		"other workspace":  tamper(strings.Replace(a.Data.FilePath, fmt.Sprintf("/%d/", h.ws.ID), "/999/", 1), exp, sig),
		"expires not time": tamper(a.Data.FilePath, "tomorrow", sig),
		// Even a correctly signed path cannot leave the export folder.
		"signed traversal": signedurl.New([]byte("test secret, at least 32 characters long"), h.url, 0).URL("../usagelog.db", now),
	} {
		resp, body := get(t, u)
		if resp.StatusCode != 403 && resp.StatusCode != 404 {
			t.Errorf("%s: %d %s, want 403", name, resp.StatusCode, body)
		}
		if resp.StatusCode == 200 || strings.Contains(string(body), "User ID") {
			t.Errorf("%s leaked the file", name)
		}
	}
	// Expired: past the 15-minute lifetime, the same link is 410.
	mu.Lock()
	now = now.Add(16 * time.Minute)
	mu.Unlock()
	if resp, body := get(t, link.String()); resp.StatusCode != 410 || !strings.Contains(string(body), "expired") {
		t.Errorf("expired link: %d %s", resp.StatusCode, body)
	}
}

// TestUsageExportPrivacy: with anonymize_users, names and emails become
// stable pseudonyms, the same in every export; with anonymize_ips, IPs in
// the API log exports are truncated.
func TestUsageExportPrivacy(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	h.store.Append(ctx, h.ws.ID, storetest.ActivityFixture())
	h.store.Append(ctx, h.ws.ID, storetest.Fixture(20))
	if err := h.store.SaveSettings(ctx, h.ws.ID, usage.Settings{AnonymizeUsers: true, AnonymizeIPs: true, Timezone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	token := h.key(h.ws, usage.ScopeUsageExportAPI, usage.ScopeLogsRead)
	download := func(dataType string) [][]string {
		r, a := h.usageExport(token, dataType, seedBody)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", dataType, r.status, r.body)
		}
		_, body := get(t, a.Data.DownloadURL)
		return readCSV(t, body)
	}
	first, again := download("users"), download("users")
	pseudo := regexp.MustCompile(`^user-[0-9a-f]{8}$`)
	for i, row := range first[1:] {
		if !pseudo.MatchString(row[0]) || row[1] != row[0] || (row[2] != "" && row[2] != row[0]) {
			t.Errorf("row not anonymized: %q", row)
		}
		if !reflect.DeepEqual(row, again[i+1]) {
			t.Errorf("pseudonyms differ between exports: %q vs %q", row, again[i+1])
		}
	}
	all := fmt.Sprint(first)
	for _, secret := range []string{"u1", "Ada", "ada@example.com", "Bob", "Cy"} {
		if strings.Contains(all, secret) {
			t.Errorf("%q left in the anonymized export: %s", secret, all)
		}
	}
	// Unique users still count people, not pseudonyms' collisions.
	if models := download("models"); models[1][4] != "2" {
		t.Errorf("models under privacy: %q", models)
	}
	// The API log exports and the logs API truncate IPs and hide members.
	rows := readCSV(t, h.do("GET", "/api/v1/exports/api-usage", token, "", nil).body)
	for _, row := range rows[1:] {
		if !strings.HasSuffix(row[4], ".0") || !pseudo.MatchString(row[2]) {
			t.Fatalf("api-usage row not anonymized: %q", row)
		}
	}
	logs := h.do("GET", "/api/v1/logs?limit=5", token, "", nil)
	if strings.Contains(string(logs.body), "203.0.113.1") || strings.Contains(string(logs.body), "Member 1") {
		t.Errorf("logs API leaks: %s", logs.body)
	}
}

// TestUsageExportLimits: the row limit is a 422 that says how to narrow;
// concurrent exports past the workspace's limit are 429; the export rate
// limit is 429 with Retry-After.
func TestUsageExportLimits(t *testing.T) {
	h := newHarness(t, 0, func(c *httpapi.Config) {
		c.RateLimits = httpapi.RateLimits{Ingest: 1000, Reads: 1000, Exports: 5}
	})
	ctx := context.Background()
	h.store.Append(ctx, h.ws.ID, storetest.ActivityFixture())
	token := h.key(h.ws, usage.ScopeUsageExportAPI)
	h.store.SaveSettings(ctx, h.ws.ID, usage.Settings{Timezone: "UTC", ExportRowLimit: 2})
	if r, _ := h.usageExport(token, "users", seedBody); r.status != 422 || !strings.Contains(string(r.body), "limit of 2") || !strings.Contains(string(r.body), "shorter range") {
		t.Errorf("row limit: %d %s", r.status, r.body)
	}
	if r, _ := h.usageExport(token, "models", seedBody); r.status != 200 {
		t.Errorf("within the row limit: %d %s", r.status, r.body)
	}
	for range 3 {
		h.usageExport(token, "models", seedBody)
	}
	r, _ := h.usageExport(token, "models", seedBody)
	if r.status != 429 || r.header.Get("Retry-After") == "" {
		t.Errorf("sixth export in a minute: %d %s", r.status, r.body)
	}
}

func errorMessage(t *testing.T, r response) string {
	t.Helper()
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("not an error answer: %s", r.body)
	}
	return e.Error.Message
}

// TestUsageExportErrorsSaySuccessFalse: every error of /export/* carries
// "success": false beside error, whatever refused it.
func TestUsageExportErrorsSaySuccessFalse(t *testing.T) {
	h := newHarness(t, 0)
	exporter := h.key(h.ws, usage.ScopeUsageExportAPI)
	reader := h.key(h.ws, usage.ScopeLogsRead)
	for _, c := range []struct {
		method, path, token, body string
		status                    int
	}{
		{"POST", "/export/users", "", `{}`, 401},
		{"POST", "/export/users", reader, `{}`, 403},
		{"POST", "/export/nonsense", exporter, `{}`, 404},
		{"POST", "/export/users", exporter, `{"from":{}}`, 400},
		{"GET", "/export/users", exporter, ``, 405},
		{"GET", "/export/usage-reports", reader, ``, 403},
	} {
		r := h.do(c.method, c.path, c.token, "application/json", strings.NewReader(c.body))
		m := r.json(t)
		if r.status != c.status || m["success"] != false || m["error"] == nil {
			t.Errorf("%s %s: %d %s, want %d with success false", c.method, c.path, r.status, r.body, c.status)
		}
	}
}

// TestEveryReportSynchronously: GET /api/v1/exports/{report} runs any
// report of the catalogue with its scope.
func TestEveryReportSynchronously(t *testing.T) {
	h := newHarness(t, 0)
	if _, err := h.store.Append(context.Background(), h.ws.ID, storetest.ActivityFixture()); err != nil {
		t.Fatal(err)
	}
	exporter := h.key(h.ws, usage.ScopeUsageExportAPI)
	admin := h.key(h.ws, usage.ScopeServerMgmtRead)
	reader := h.key(h.ws, usage.ScopeLogsRead)
	for _, c := range []struct {
		path, token string
		status      int
		disposition string
	}{
		{"/api/v1/exports/users?from=2026-03-01&to=2026-03-31&format=json", exporter, 200, `filename=`},
		{"/api/v1/exports/agents?from=2026-03-01&to=2026-03-31", exporter, 404, ""},
		{"/api/v1/exports/models?from=2026-03-01&to=2026-03-31&tz=America%2FNew_York", exporter, 200, `.csv`},
		{"/api/v1/exports/users?from=2026-03-01&to=2026-03-31", reader, 403, ""},
		{"/api/v1/exports/users?from=2026-03-01", exporter, 400, ""},
		{"/api/v1/exports/usage-reports", admin, 200, `Usage Reports.zip`},
		{"/api/v1/exports/usage-reports?tz=Mars%2FBase", admin, 400, ""},
	} {
		r := h.do("GET", c.path, c.token, "", nil)
		if r.status != c.status || !strings.Contains(r.header.Get("Content-Disposition"), c.disposition) {
			t.Errorf("%s: %d %q %.200s", c.path, r.status, r.header.Get("Content-Disposition"), r.body)
		}
	}
}
