package cli_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

func TestExportCommand(t *testing.T) {
	data := t.TempDir()
	events := storetest.Fixture(300)
	var nd bytes.Buffer
	mcp := 0
	for i := range events {
		line, err := ingest.MarshalJSON(&events[i])
		if err != nil {
			t.Fatal(err)
		}
		nd.Write(append(line, '\n'))
		if events[i].UsageType == usage.TypeMCP {
			mcp++
		}
	}
	in := filepath.Join(data, "events.ndjson")
	os.WriteFile(in, nd.Bytes(), 0o644)
	if r := run(t, nil, "ingest", "--data", data, in); r.code != 0 {
		t.Fatalf("ingest: %+v", r)
	}

	out := filepath.Join(data, "mcp.csv")
	r := run(t, nil, "export", "api-usage", "--data", data, "--type", "mcp", "--tz", "America/New_York", "--out", out)
	if r.code != 0 || !strings.Contains(r.stderr, "rows") || !strings.Contains(r.stderr, "wrote ") {
		t.Fatalf("export: %+v", r)
	}
	raw, _ := os.ReadFile(out)
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil || len(rows)-1 != mcp || rows[0][0] != "ID" {
		t.Fatalf("%d rows (%v), want %d MCP calls", len(rows)-1, err, mcp)
	}

	// The format follows the extension; the workbook holds the same cells.
	xout := filepath.Join(data, "mcp.xlsx")
	if r := run(t, nil, "export", "api-usage", "--data", data, "--type=mcp", "--tz=America/New_York", "--quiet", "--out", xout); r.code != 0 || strings.Contains(r.stderr, "%") {
		t.Fatalf("xlsx export: %+v", r)
	}
	wb, err := excelize.OpenFile(xout)
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	xrows, _ := wb.GetRows("api-usage")
	if !reflect.DeepEqual(xrows, rows) {
		t.Errorf("xlsx differs from csv: %q… vs %q…", xrows[:2], rows[:2])
	}

	// Filters repeat and reach the query: two statuses, one client.
	r = run(t, nil, "export", "api-logs", "--data", data, "--status", "401", "--status", "500", "--format", "ndjson", "--quiet", "--out", "-")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) == 0 || !strings.HasPrefix(lines[0], `{"date":`) {
		t.Fatalf("ndjson to stdout: %+v", r)
	}
	for _, l := range lines {
		if !strings.Contains(l, `"code":401`) && !strings.Contains(l, `"code":500`) {
			t.Fatalf("line outside the status filter: %s", l)
		}
	}

	// Bad input: exit 2 naming the problem, and no file left behind.
	bad := filepath.Join(data, "bad.csv")
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"export", "api-usage", "--tz", "Mars/Olympus", "--out", bad}, `unknown timezone "Mars/Olympus"`},
		{[]string{"export", "api-usage", "--type", "ai", "--out", bad}, `unknown type "ai"`},
		{[]string{"export", "api-usage", "--format", "pdf", "--out", bad}, `unknown format "pdf"`},
		{[]string{"export", "billing", "--out", bad}, `unknown report "billing"`},
		{[]string{"export", "api-usage"}, "--out FILE is required"},
	} {
		r := run(t, nil, append(tt.args, "--data", data)...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.msg) {
			t.Errorf("%v: exit %d %q, want 2 with %q", tt.args, r.code, r.stderr, tt.msg)
		}
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("a refused export left %s", bad)
	}
	if left, _ := filepath.Glob(filepath.Join(data, ".*.tmp")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// The workspace's privacy settings hold in the command line's exports
	// too: members become the pseudonyms of the server's secret, IPs /24s.
	on := usage.Settings{AnonymizeUsers: true, AnonymizeIPs: true}
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(data, "usagelog.db")})
	if err != nil {
		t.Fatal(err)
	}
	err = st.SaveSettings(context.Background(), 1, on)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	r = run(t, nil, "export", "api-usage", "--data", data, "--quiet", "--out", "-")
	rows, err = csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if r.code != 0 || err != nil || len(rows) != len(events)+1 {
		t.Fatalf("export with privacy: %d rows, %v, %+v", len(rows), err, r.stderr)
	}
	secret, _ := os.ReadFile(filepath.Join(data, "secret"))
	privacy := usage.NewPrivacy(on, []byte(strings.TrimSpace(string(secret))), 1)
	byID := map[string]usage.Event{}
	for _, e := range events {
		byID[e.ID] = e
	}
	for _, row := range rows[1:] {
		e := byID[row[0]]
		if want := privacy.Pseudonym(e.MemberID); row[2] != want || want == "" {
			t.Fatalf("member of %s: %q, want the pseudonym %q", row[0], row[2], want)
		}
		if want := usage.TruncateIP(e.IP); row[4] != want {
			t.Fatalf("IP of %s: %q, want %q", row[0], row[4], want)
		}
	}
}

func TestExportUsageCommand(t *testing.T) {
	data := t.TempDir()
	ingestLocal(t, data, storetest.ActivityFixture())
	out := filepath.Join(data, "models.csv")
	r := run(t, nil, "export", "models", "--data", data, "--from", "2026-03-01", "--to", "2026-03-31", "--tz", "America/New_York", "--out", out)
	if r.code != 0 || !strings.Contains(r.stderr, "wrote 2 models rows") {
		t.Fatalf("export models: %+v", r)
	}
	raw, _ := os.ReadFile(out)
	want := "Model,Messages,Input Tokens,Output Tokens,Unique Users\r\ngpt-4o,9,1100,2200,2\r\nclaude,7,60,80,2\r\n"
	if string(raw) != want {
		t.Errorf("models.csv:\n%s\nwant\n%s", raw, want)
	}
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"export", "users", "--to", "2026-03-31", "--out", out}, "--from and --to are required"},
		{[]string{"export", "users", "--from", "2026-03-31", "--to", "2026-03-01", "--out", out}, "--from: "},
		{[]string{"export", "users", "--from", "yesterday", "--to", "2026-03-01", "--out", out}, `--from: "yesterday" is not an ISO 8601 date`},
		{[]string{"export", "users", "--from", "2026-03-01", "--to", "2026-03-31", "--status", "500", "--out", out}, "--status does not apply"},
	} {
		r := run(t, nil, append(tt.args, "--data", data)...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.msg) {
			t.Errorf("%v: exit %d %q, want 2 with %q", tt.args, r.code, r.stderr, tt.msg)
		}
	}
}

func TestExportUsageReportsCommand(t *testing.T) {
	data := t.TempDir()
	events := storetest.ReportsFixture()
	for i := range events {
		events[i].Time = time.Now().Add(-24 * time.Hour) // inside both periods of a run now
		events[i].ID += "-now"
	}
	ingestLocal(t, data, events)
	out := filepath.Join(data, "Usage Reports.zip")
	if r := run(t, nil, "export", "usage-reports", "--data", data, "--out", out); r.code != 0 || !strings.Contains(r.stderr, "wrote the usage reports") {
		t.Fatalf("export: %+v", r)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f, _ := zr.File[1].Open()
	defer f.Close()
	wb, err := excelize.OpenReader(f)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := wb.GetRows("Summary")
	// Every observation and sync of the fixture now falls in the year: the
	// ancient user and the old GitHub sync count too.
	if zr.File[1].Name != "Usage Report (Last 1 Year).xlsx" || len(rows) != 5 || rows[1][1] != "7" || rows[4][1] != "5" {
		t.Errorf("summary %q", rows)
	}
	if r := run(t, nil, "export", "usage-reports", "--data", data, "--from", "2026-01-01", "--out", out); r.code != 2 {
		t.Errorf("--from: %+v", r)
	}
}

// ingestLocal writes events as NDJSON and ingests them into the local
// store in data with the CLI.
func ingestLocal(t *testing.T, data string, events []usage.Event) {
	t.Helper()
	var nd bytes.Buffer
	for i := range events {
		line, err := ingest.MarshalJSON(&events[i])
		if err != nil {
			t.Fatal(err)
		}
		nd.Write(append(line, '\n'))
	}
	in := filepath.Join(data, "events.ndjson")
	if err := os.WriteFile(in, nd.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, nil, "ingest", "--data", data, in); r.code != 0 {
		t.Fatalf("ingest: %+v", r)
	}
}

// TestExportHelpListsTheCatalogue: the help names every report and every
// log filter, because it is made from them.
func TestExportHelpListsTheCatalogue(t *testing.T) {
	res := run(t, nil, "export", "--help")
	for _, r := range export.Catalogue {
		if !strings.Contains(res.stderr, r.Name) {
			t.Errorf("export --help does not name report %q:\n%s", r.Name, res.stderr)
		}
	}
	for _, p := range usage.FilterParams {
		if flag := "--" + strings.ReplaceAll(p.Name, "_", "-"); !strings.Contains(res.stderr, flag) {
			t.Errorf("export --help does not name filter %s", flag)
		}
	}
}
