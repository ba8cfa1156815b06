package cli_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/sqlite"
)

// TestClusterFromTheCLI: events ingested newest first are out of time
// order; `usagelog cluster` says how many, rewrites only when asked
// below its threshold, and the export is the same after.
func TestClusterFromTheCLI(t *testing.T) {
	data := t.TempDir()
	var b strings.Builder
	now := time.Now().UTC()
	for i := range 100 {
		at := now.Add(-time.Duration(i) * 2 * time.Hour) // newest first: 99 of them late, as the merge counts them
		fmt.Fprintf(&b, `{"kind":"api_request","id":"r%d","time":%q,"status":200}`+"\n", i, at.Format(time.RFC3339))
	}
	in := filepath.Join(t.TempDir(), "calls.ndjson")
	os.WriteFile(in, []byte(b.String()), 0o600)
	if r := run(t, nil, "ingest", "--data", data, "--batch", "10", in); r.code != 0 {
		t.Fatalf("ingest: %+v", r)
	}
	// What a server's background merge does in time, done now: a command
	// stops its merge when it ends, and how far the ingest's and the
	// export's got depended on the machine's load (a CI run found 80 of the
	// 100 still waiting).
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(data, "usagelog.db"), ManualMerge: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Merge(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	export := func() string {
		r := run(t, nil, "export", "api-logs", "--data", data, "--format", "csv", "--quiet", "--out", "-")
		if r.code != 0 {
			t.Fatalf("export: %+v", r)
		}
		return r.stdout
	}
	before := export()
	if r := run(t, nil, "cluster", "--data", data, "--status"); r.code != 0 || !strings.Contains(r.stdout, "99 of about 100 events stored out of time order") {
		t.Fatalf("cluster --status: %+v", r)
	}
	if r := run(t, nil, "cluster", "--data", data); r.code != 0 || !strings.Contains(r.stdout, "no rewrite needed") {
		t.Fatalf("cluster below the threshold: %+v", r)
	}
	if r := run(t, nil, "cluster", "--data", data, "--force"); r.code != 0 || !strings.Contains(r.stdout, "rewrote the events table in time order") {
		t.Fatalf("cluster --force: %+v", r)
	}
	if r := run(t, nil, "cluster", "--data", data, "--status"); r.code != 0 || !strings.Contains(r.stdout, "0 of about 100 events") {
		t.Fatalf("cluster --status after: %+v", r)
	}
	if after := export(); after != before {
		t.Errorf("the export changed:\n%s\nwant\n%s", after, before)
	}
	if r := run(t, nil, "cluster", "--data", data, "extra"); r.code != 2 {
		t.Errorf("an argument: %+v", r)
	}
}
