package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRetentionFromTheCLI: a workspace set to keep 30 days loses older
// events to `usagelog janitor`, which prints what it removed and leaves
// an audit entry.
func TestRetentionFromTheCLI(t *testing.T) {
	data := t.TempDir()
	var b strings.Builder
	now := time.Now().UTC()
	for i := range 100 {
		at := now.AddDate(0, 0, -i) // one a day for 100 days
		fmt.Fprintf(&b, `{"kind":"api_request","id":"r%d","time":%q,"status":200}`+"\n", i, at.Format(time.RFC3339))
	}
	in := filepath.Join(t.TempDir(), "calls.ndjson")
	os.WriteFile(in, []byte(b.String()), 0o600)
	if r := run(t, nil, "ingest", "--data", data, in); r.code != 0 {
		t.Fatalf("ingest: %+v", r)
	}
	if r := run(t, nil, "settings", "--data", data, "--retention-days", "30"); r.code != 0 || !strings.Contains(r.stdout, "keep events\t30 days") {
		t.Fatalf("settings: %+v", r)
	}
	r := run(t, nil, "janitor", "--data", data)
	// Kept: the 31 days from the start of the UTC day 30 days ago.
	if r.code != 0 || !strings.Contains(r.stdout, "default") || !strings.Contains(r.stdout, " 69\n") {
		t.Fatalf("janitor: %+v", r)
	}
	r = run(t, nil, "export", "api-logs", "--data", data, "--format", "csv", "--quiet", "--out", "-")
	if n := strings.Count(r.stdout, "\r\n") - 1; n != 31 {
		t.Errorf("%d calls left, want 31", n)
	}
	if r := run(t, nil, "audit", "--data", data, "--action", "retention.purge", "--format", "json"); !strings.Contains(r.stdout, `"events":69`) {
		t.Errorf("audit: %+v", r)
	}
	if r := run(t, nil, "settings", "--data", data, "--retention-days", "4000"); r.code != 2 {
		t.Errorf("out of range: %+v", r)
	}
}
