package export

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/storetest"
)

// wantReports are the sheets of both workbooks for storetest.ReportsFixture
// in America/New_York, worked out by hand, as LibreOffice writes them
// (dates with seconds added).
var wantReports = map[string][][][]string{
	"Usage Report (Last 6 Months).xlsx": {
		{
			{"Metric", "Count", "Breakdown", "", "", ""},
			{"Total Unique Users", "5", "Usernames or Emails: 2", "Emails: 1", "Display Names: 1", "Usernames: 1"},
			{"Total Unique Entity Types", "2", "", "", "", ""},
			{"Total Unique Projects", "2", "", "", "", ""},
			{"Total Entities Synced", "3", "", "", "", ""},
		},
		{
			{"System / Source", "Count", "Identifiers"},
			{"Azure DevOps", "5", "Usernames or Emails: 0; Emails: 2; Display Names: 1; Usernames: 2"},
			{"Jira", "1", "Usernames or Emails: 1; Emails: 0; Display Names: 0; Usernames: 0"},
			{"ServiceNow", "2", "Usernames or Emails: 2; Emails: 0; Display Names: 0; Usernames: 0"},
			{"All systems", "5", "Usernames or Emails: 2; Emails: 1; Display Names: 1; Usernames: 1"},
		},
		{
			{"System Pairs", "End System", "Entity Types", "Status", "Last Synced"},
			{"Jira ↔ ServiceNow", "Jira", "Bug", "Active", "2026-10-03 06:00:00"},
			{"Jira ↔ ServiceNow", "ServiceNow", "Incident", "Active", "2026-10-02 06:00:00"},
		},
		{
			{"End System 1", "End System 2", "End System 1 Project", "End System 2 Project", "Status", "Last Updated", "Last Synced"},
			{"Jira", "ServiceNow", "ENG", "INC", "Active", "2026-08-31 20:00:00", "2026-10-03 06:00:00"},
		},
		{
			{"End System 1", "End System 2", "Counts Based on System Pair", "Last Synced"},
			{"Jira", "ServiceNow", "3", "2026-10-03 06:00:00"},
		},
		detailRows(false),
	},
	"Usage Report (Last 1 Year).xlsx": {
		{
			{"Metric", "Count", "Breakdown", "", "", ""},
			{"Total Unique Users", "6", "Usernames or Emails: 2", "Emails: 1", "Display Names: 1", "Usernames: 2"},
			{"Total Unique Entity Types", "3", "", "", "", ""},
			{"Total Unique Projects", "3", "", "", "", ""},
			{"Total Entities Synced", "4", "", "", "", ""},
		},
		{
			{"System / Source", "Count", "Identifiers"},
			{"Azure DevOps", "5", "Usernames or Emails: 0; Emails: 2; Display Names: 1; Usernames: 2"},
			{"Jira", "2", "Usernames or Emails: 1; Emails: 0; Display Names: 0; Usernames: 1"},
			{"ServiceNow", "2", "Usernames or Emails: 2; Emails: 0; Display Names: 0; Usernames: 0"},
			{"All systems", "6", "Usernames or Emails: 2; Emails: 1; Display Names: 1; Usernames: 2"},
		},
		{
			{"System Pairs", "End System", "Entity Types", "Status", "Last Synced"},
			{"Azure DevOps ↔ Jira", "Jira", "Story", "Inactive", "2026-03-01 05:00:00"},
			{"Jira ↔ ServiceNow", "Jira", "Bug", "Active", "2026-10-03 06:00:00"},
			{"Jira ↔ ServiceNow", "ServiceNow", "Incident", "Active", "2026-10-02 06:00:00"},
		},
		{
			{"End System 1", "End System 2", "End System 1 Project", "End System 2 Project", "Status", "Last Updated", "Last Synced"},
			{"Azure DevOps", "Jira", "Web", "ENG", "Inactive", "2026-01-31 19:00:00", "2026-03-01 05:00:00"},
			{"Jira", "ServiceNow", "ENG", "INC", "Active", "2026-08-31 20:00:00", "2026-10-03 06:00:00"},
		},
		{
			{"End System 1", "End System 2", "Counts Based on System Pair", "Last Synced"},
			{"Azure DevOps", "Jira", "1", "2026-03-01 05:00:00"},
			{"Jira", "ServiceNow", "3", "2026-10-03 06:00:00"},
		},
		detailRows(true),
	},
}

func detailRows(year bool) [][]string {
	rows := [][]string{
		{"Email", "Username", "Display Name", "Interaction Types", "Observed In", "Service Account", "Last Seen", "Duplicates"},
		{"Ada@Example.com; alovelace@corp.example", "ada; alovelace", "Ada L", "Comment author; Mention in rich text; Update author",
			"Jira (2026-09-30 22:00); ServiceNow (2026-10-01 01:00)", "No", "2026-10-01 01:00:00", "ada; alovelace"},
		{"bob@example.com; BOB@other.example", "bobby", "", "Comment author; Mention in rich text",
			"Azure DevOps (2026-10-01 07:00); ServiceNow (2026-09-30 23:00)", "No", "2026-10-01 07:00:00", ""},
		{"Carol@Example.com", "carol", "", "Attachment author; Comment author; Update author",
			"Azure DevOps (2026-10-01 06:00)", "No", "2026-10-01 06:00:00", ""},
		{"", "dsmith", "Dave Smith", "Mapped user field", "Azure DevOps (2026-10-01 05:00)", "No", "2026-10-01 05:00:00", ""},
	}
	if year {
		rows = append(rows, []string{"", "olduser", "", "Comment author", "Jira (2026-01-15 07:00)", "No", "2026-01-15 07:00:00", ""})
	}
	return append(rows, []string{"", "svc-sync", "", "Mapped user field; Update author", "Azure DevOps (2026-10-02 08:00)", "Yes", "2026-10-02 08:00:00", ""})
}

func usageReportsZip(t *testing.T) []byte {
	t.Helper()
	ctx := context.Background()
	st := sqlitetest.Open(t)
	if _, err := st.Append(ctx, 1, storetest.ReportsFixture()); err != nil {
		t.Fatal(err)
	}
	reports, err := LoadUsageReports(ctx, st, 1, storetest.ReportsNow)
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	var buf bytes.Buffer
	if err := reports.Write(ctx, &buf, ny); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestUsageReportsLibreOffice(t *testing.T) {
	bin := soffice(t)
	raw := usageReportsZip(t)
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	dir := t.TempDir()
	for _, f := range zr.File {
		names = append(names, f.Name)
		r, _ := f.Open()
		b, _ := io.ReadAll(r)
		os.WriteFile(filepath.Join(dir, f.Name), b, 0o644)

		wb, err := excelize.OpenReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if got := wb.GetSheetList(); !reflect.DeepEqual(got, UsageReportSheets) {
			t.Errorf("%s sheets %q", f.Name, got)
		}
		for _, sh := range UsageReportSheets {
			if p, err := wb.GetPanes(sh); err != nil || !p.Freeze || p.TopLeftCell != "A2" || p.YSplit != 1 {
				t.Errorf("%s %s: header not frozen (%+v, %v)", f.Name, sh, p, err)
			}
		}
		wb.Close()

		got := convertSheets(t, bin, filepath.Join(dir, f.Name), "")
		want := wantReports[f.Name]
		if len(got) != len(want) {
			t.Fatalf("%s: %d sheets read back", f.Name, len(got))
		}
		for i, sh := range UsageReportSheets {
			if !reflect.DeepEqual(got[sh], want[i]) {
				t.Errorf("%s, sheet %s:\n%q\nwant\n%q", f.Name, sh, got[sh], want[i])
			}
		}
	}
	if !reflect.DeepEqual(names, []string{"Usage Report (Last 6 Months).xlsx", "Usage Report (Last 1 Year).xlsx"}) {
		t.Errorf("zip holds %q", names)
	}
}
