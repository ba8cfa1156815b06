package export_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/usagelog/usagelog/internal/export"
)

// TestReportsReference fails when docs/reports.md is not what the
// catalogue writes; UPDATE_REPORTS_DOC=1 rewrites it.
func TestReportsReference(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "reports.md")
	want := export.Reference()
	if os.Getenv("UPDATE_REPORTS_DOC") != "" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is stale: run UPDATE_REPORTS_DOC=1 go test ./internal/export -run TestReportsReference", path)
	}
}

// TestCatalogue holds every report a job, schedule or CLI can run to one
// entry with its scope, and unknown names to an error that lists them.
func TestCatalogue(t *testing.T) {
	for _, r := range export.Catalogue {
		got, err := export.LookupReport(r.Name)
		if err != nil || got.Name != r.Name || got.Scope == "" || len(got.Formats) == 0 || got.Title == "" {
			t.Errorf("%s: %+v, %v", r.Name, got, err)
		}
	}
	if r, err := export.LookupReport("agents"); err != nil || r.Name != "assistants" {
		t.Errorf("agents: %+v, %v; want assistants", r, err)
	}
	if _, err := export.LookupReport("billing"); err == nil || err.Error() != `unknown report "billing" (want `+export.ReportNames()+")" {
		t.Errorf("billing: %v", err)
	}
	if len(export.Catalogue) != 9 {
		t.Errorf("%d reports in the catalogue, want the 9 of the product", len(export.Catalogue))
	}
}
