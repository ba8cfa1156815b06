package httpapi_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"

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
		if e.UsageType == usage.UsageMCP && e.Community == "Community 1" {
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
