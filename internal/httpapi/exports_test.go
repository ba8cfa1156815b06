package httpapi_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

func readCSV(t *testing.T, body []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v: %.300s", err, body)
	}
	return rows
}

func TestLogsCSVAndAPIUsage(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	token := h.key(h.ws, usage.ScopeLogsRead)
	events := storetest.Fixture(300)
	if _, err := h.store.Append(ctx, h.ws.ID, events); err != nil {
		t.Fatal(err)
	}
	other, _ := h.store.CreateWorkspace(ctx, "other")
	otherToken := h.key(other, usage.ScopeLogsRead)

	r := h.do("GET", "/api/v1/logs.csv?status_class=4xx&tz=America/New_York&from=2026-03-08&to=2026-03-08", token, "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("logs.csv: %d %s", r.status, r.header)
	}
	if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename=default-api-logs-2026-03-08_2026-03-08.csv` {
		t.Errorf("Content-Disposition %q", cd)
	}
	rows := readCSV(t, r.body)
	if strings.Join(rows[0], ",") != "Date,Type,Code,Status,Gateway code,Status details,IP,Timing,Delay,API collection,Endpoint,Client,Job details" {
		t.Errorf("header %q", rows[0])
	}
	want := 0
	for _, e := range events {
		if e.Status/100 == 4 {
			want++
		}
	}
	if len(rows)-1 != want {
		t.Errorf("%d 4xx rows, want %d", len(rows)-1, want)
	}
	for _, row := range rows[1:] {
		if row[1] != "Error" || row[3] == "" || row[4] == "" || row[5] != "Unrecognized token" || !strings.HasSuffix(row[0], "-05:00") && !strings.HasSuffix(row[0], "-04:00") {
			t.Fatalf("row %q", row)
		}
		if strings.HasPrefix(row[11], "=") {
			t.Fatalf("formula not neutralised: %q", row[11])
		}
	}
	// Another workspace's key gets its own (empty) log.
	if r := h.do("GET", "/api/v1/logs.csv", otherToken, "", nil); len(readCSV(t, r.body)) != 1 {
		t.Errorf("other workspace sees our rows")
	}

	r = h.do("GET", "/api/v1/exports/api-usage?type=mcp&community=Community+1&tz=UTC", token, "", nil)
	if r.status != 200 {
		t.Fatalf("api-usage: %d %s", r.status, r.body)
	}
	rows = readCSV(t, r.body)
	if strings.Join(rows[0], ",") != "ID,Community Name,Member Name,Timestamp,IP Address,URL,Remote System Info" {
		t.Errorf("header %q", rows[0])
	}
	want = 0
	for _, e := range events {
		if e.UsageType == usage.TypeMCP && e.Community == "Community 1" {
			want++
		}
	}
	if len(rows)-1 != want || want == 0 {
		t.Errorf("%d MCP rows of Community 1, want %d", len(rows)-1, want)
	}
	for _, row := range rows[1:] {
		if row[1] != "Community 1" || !strings.HasPrefix(row[6], "System: MCP server") || len(row[3]) != len("03/08/2026 06:00") {
			t.Fatalf("row %q", row)
		}
	}
	for q, msg := range map[string]string{
		"type=ai":                   `unknown type \"ai\"`,
		"format=pdf":                `unknown format \"pdf\"`,
		"tz=Atlantis/City":          `unknown timezone`,
		"community=a&community=b":   "give one community",
		"type=mcp&usage_type=other": "contradicts",
	} {
		if r := h.do("GET", "/api/v1/exports/api-usage?"+q, token, "", nil); r.status != 400 || !strings.Contains(string(r.body), msg) {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
}

func TestLogExportFormatsAndLimits(t *testing.T) {
	h := newHarness(t, 0)
	ctx := context.Background()
	token := h.key(h.ws, usage.ScopeLogsRead)
	events := storetest.Fixture(300)
	if _, err := h.store.Append(ctx, h.ws.ID, events); err != nil {
		t.Fatal(err)
	}
	csvRows := readCSV(t, h.do("GET", "/api/v1/exports/api-usage?from=2026-03-08", token, "", nil).body)
	if len(csvRows) < 2 {
		t.Fatalf("%d csv rows", len(csvRows))
	}

	r := h.do("GET", "/api/v1/exports/api-usage?format=xlsx&from=2026-03-08", token, "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
		t.Fatalf("xlsx: %d %s", r.status, r.header)
	}
	if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename=default-api-usage-2026-03-08_`) || !strings.HasSuffix(cd, ".xlsx") {
		t.Errorf("Content-Disposition %q", cd)
	}
	wb, err := excelize.OpenReader(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("xlsx does not open: %v", err)
	}
	xRows, err := wb.GetRows("api-usage")
	if err != nil || !reflect.DeepEqual(xRows, csvRows) {
		t.Errorf("xlsx rows differ from csv (%v):\n%q\n%q", err, head(xRows), head(csvRows))
	}

	r = h.do("GET", "/api/v1/exports/api-logs?format=ndjson&status=500", token, "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("ndjson: %d %s", r.status, r.header)
	}
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	for _, l := range lines {
		var o map[string]any
		if err := json.Unmarshal([]byte(l), &o); err != nil || o["code"] != float64(500) || o["type"] != "Error" {
			t.Fatalf("ndjson line %q: %v", l, err)
		}
	}
	r = h.do("GET", "/api/v1/exports/api-logs?format=json&status=500", token, "", nil)
	var arr []map[string]any
	if err := json.Unmarshal(r.body, &arr); err != nil || len(arr) != len(lines) {
		t.Errorf("json: %d objects (%v), ndjson had %d", len(arr), err, len(lines))
	}

	// The workspace timezone is the default for written times only.
	if err := h.store.SaveSettings(ctx, h.ws.ID, usage.Settings{Timezone: "America/New_York", ExportRowLimit: 10}); err != nil {
		t.Fatal(err)
	}
	r = h.do("GET", "/api/v1/logs.csv?status=500", token, "", nil)
	if r.status != 422 || !strings.Contains(string(r.body), "limit of 10") || !strings.Contains(string(r.body), "narrow") {
		t.Errorf("over the row limit: %d %s", r.status, r.body)
	}
	if err := h.store.SaveSettings(ctx, h.ws.ID, usage.Settings{Timezone: "America/New_York"}); err != nil {
		t.Fatal(err)
	}
	nyRows := readCSV(t, h.do("GET", "/api/v1/logs.csv?status=500", token, "", nil).body)
	if len(nyRows)-1 != len(lines) {
		t.Errorf("the timezone changed the rows: %d, want %d", len(nyRows)-1, len(lines))
	}
	for _, row := range nyRows[1:] {
		if !strings.HasSuffix(row[0], "-05:00") && !strings.HasSuffix(row[0], "-04:00") {
			t.Fatalf("row not in the workspace timezone: %q", row)
		}
	}

	for path, want := range map[string]int{
		"/api/v1/exports/nope":                 404,
		"/api/v1/logs.csv?format=xlsx":         400,
		"/api/v1/exports/api-logs?format=docx": 400,
	} {
		if r := h.do("GET", path, token, "", nil); r.status != want {
			t.Errorf("%s: %d %s, want %d", path, r.status, r.body, want)
		}
	}
}

func head(rows [][]string) [][]string { return rows[:min(len(rows), 3)] }
