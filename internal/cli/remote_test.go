package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usagelog/usagelog/internal/storetest"
)

// TestExportThroughServerJob runs an export as a job of a running server
// and checks the downloaded file equals the local export; then manages a
// schedule through the same server.
func TestExportThroughServerJob(t *testing.T) {
	data := t.TempDir()
	ingestLocal(t, data, storetest.Fixture(3_000))
	local := filepath.Join(data, "local.csv")
	if r := run(t, nil, "export", "api-usage", "--data", data, "--type", "mcp", "--tz", "America/New_York", "--quiet", "--out", local); r.code != 0 {
		t.Fatalf("local export: %+v", r)
	}
	srv := startServer(t, "--data", data)
	defer srv.stop(t)
	key := run(t, nil, "keys", "create", "--data", data, "--name", "cli", "--scope", "LOGS_READ")
	token := strings.TrimSpace(key.stdout)

	remote := filepath.Join(data, "remote.csv")
	r := run(t, nil, "export", "api-usage", "--server", srv.url, "--token", token, "--type", "mcp", "--tz", "America/New_York", "--out", remote)
	if r.code != 0 || !strings.Contains(r.stderr, "export job job_") || !strings.Contains(r.stderr, "wrote ") {
		t.Fatalf("remote export: %+v", r)
	}
	a, _ := os.ReadFile(local)
	b, _ := os.ReadFile(remote)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("the job's file (%d bytes) differs from the local export (%d bytes)", len(b), len(a))
	}
	// A refusal is the server's message.
	r = run(t, nil, "export", "users", "--server", srv.url, "--token", token, "--from", "2026-03-01", "--to", "2026-03-31", "--out", filepath.Join(data, "u.csv"))
	if r.code == 0 || !strings.Contains(r.stderr, "USAGE_EXPORT_API") {
		t.Errorf("export without the scope: %+v", r)
	}

	r = run(t, nil, "schedules", "create", "--server", srv.url, "--token", token, "--name", "nightly", "--report", "api-logs",
		"--filter", "status_class=5xx", "--every", "daily", "--at", "02:00", "--tz", "Europe/Berlin", "--webhook", "https://hooks.example.com/u")
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(id, "sch_") || !strings.Contains(r.stderr, "webhook secret (shown once): whsec_") {
		t.Fatalf("schedules create: %+v", r)
	}
	if r := run(t, nil, "schedules", "list", "--server", srv.url, "--token", token); r.code != 0 || !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "daily 02:00 Europe/Berlin") {
		t.Errorf("schedules list: %+v", r)
	}
	if r := run(t, nil, "schedules", "create", "--server", srv.url, "--token", token, "--name", "x", "--report", "api-logs", "--every", "hourly"); r.code == 0 || !strings.Contains(r.stderr, `unknown cadence "hourly"`) {
		t.Errorf("bad cadence: %+v", r)
	}
	if r := run(t, nil, "schedules", "delete", "--server", srv.url, "--token", token, id); r.code != 0 {
		t.Errorf("schedules delete: %+v", r)
	}
	if r := run(t, nil, "schedules", "delete", "--server", srv.url, "--token", token, id); r.code == 0 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("delete again: %+v", r)
	}
}
