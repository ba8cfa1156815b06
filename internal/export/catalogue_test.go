package export_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
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
		if err != nil || got.Name != r.Name || got.Scope == "" || len(got.Formats) == 0 || got.Title == "" || got.Plan == nil {
			t.Errorf("%s: %+v, %v", r.Name, got, err)
		}
	}
	if r, err := export.LookupReport("agents"); err != nil || r.Name != "assistants" {
		t.Errorf("agents: %+v, %v; want assistants", r, err)
	}
	if _, err := export.LookupReport("billing"); err == nil || err.Error() != `unknown report "billing" (want `+export.ReportNames()+")" {
		t.Errorf("billing: %v", err)
	}
	// Every report of the product is there, each name once; a report
	// added to the catalogue needs no change here.
	seen := map[string]bool{}
	for _, r := range export.Catalogue {
		if seen[r.Name] {
			t.Errorf("report %s twice", r.Name)
		}
		seen[r.Name] = true
	}
	for _, name := range []string{"api-logs", "api-usage", "users", "assistants", "workflows", "projects", "models", "api-keys", "usage-reports"} {
		if !seen[name] {
			t.Errorf("the catalogue lacks %s", name)
		}
	}
}

// TestGoldenUsageExports keeps every activity export's output, in every
// text format, byte for byte: UPDATE_GOLDEN=1 rewrites testdata.
func TestGoldenUsageExports(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	events := storetest.ActivityFixture()
	for _, r := range export.Catalogue {
		u := export.UsageExports[r.Name]
		if u == nil {
			continue
		}
		for _, f := range []export.Format{export.CSVFormat, export.JSONFormat, export.NDJSONFormat} {
			seq := func(yield func(*usage.Event, error) bool) {
				for i := range events {
					if !yield(&events[i], nil) {
						return
					}
				}
			}
			rows, err := u.Aggregate(context.Background(), seq, ny, usage.Privacy{})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := export.Write(context.Background(), u.Definition, export.Rows(rows), ny, export.NewWriter(f, &buf, u.Name), nil); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", u.Name+".golden."+string(f))
			if os.Getenv("UPDATE_GOLDEN") != "" {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from %s:\n%s", u.Name, golden, buf.Bytes())
			}
		}
	}
}
