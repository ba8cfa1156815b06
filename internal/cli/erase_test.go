package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEraseCommand: usagelog erase removes a user's activity and
// observations by email in either case and prints the receipt, refuses a
// request naming two fields, and a re-import of the erased events is
// counted as duplicates.
func TestEraseCommand(t *testing.T) {
	data := t.TempDir()
	now := time.Now().UTC().Add(-time.Hour)
	var body strings.Builder
	for i := range 40 {
		email := []string{"keep@example.com", "Gone@Example.com"}[i%2]
		fmt.Fprintf(&body, `{"kind":"activity","id":"a%d","time":%q,"user_id":"u%d","user_email":%q,"feature":"chat"}`+"\n",
			i, now.Add(-time.Duration(i)*time.Minute).Format(time.RFC3339), i%2, email)
		fmt.Fprintf(&body, `{"kind":"user_seen","id":"s%d","time":%q,"system":"Jira","email":%q,"interaction":"mention"}`+"\n",
			i, now.Add(-time.Duration(i)*time.Minute).Format(time.RFC3339), email)
	}
	file := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(file, []byte(body.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, nil, "ingest", "--data", data, file); r.code != 0 {
		t.Fatalf("ingest: %+v", r)
	}
	if r := run(t, nil, "erase", "--data", data, "--email", "gone@example.com", "--user-id", "u1"); r.code != 2 || !strings.Contains(r.stderr, "exactly one") {
		t.Errorf("two fields: %+v", r)
	}
	r := run(t, nil, "erase", "--data", data, "--email", "GONE@example.com", "--reason", "request 12", "--delete-files")
	if r.code != 0 || !strings.Contains(r.stdout, "status\tdone") || !strings.Contains(r.stdout, "removed\t20 activity") ||
		!strings.Contains(r.stdout, "removed\t20 user_seen") || !strings.Contains(r.stdout, "matched\tuser_email hmac-sha256:") {
		t.Fatalf("erase: %+v", r)
	}
	if strings.Contains(r.stdout, "gone@") || strings.Contains(strings.ToLower(r.stdout), "gone@example.com") {
		t.Errorf("the receipt repeats the value: %s", r.stdout)
	}
	if r := run(t, nil, "ingest", "--data", data, file); r.code != 0 || !strings.Contains(r.stdout, "accepted 0, duplicates 80") {
		t.Errorf("re-import: %+v", r)
	}
	a := run(t, nil, "audit", "--data", data)
	if a.code != 0 || !strings.Contains(a.stdout, "erasure.create") || !strings.Contains(a.stdout, "erasure.done") || strings.Contains(strings.ToLower(a.stdout), "gone@example.com") {
		t.Errorf("audit: %+v", a)
	}
}
