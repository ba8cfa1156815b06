package cli_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/usagelog/usagelog/internal/clickhouse"
	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/storetest"
)

// postgresDatabase creates an empty database for one test on the server
// scripts/test.sh provides (USAGELOG_TEST_POSTGRES) and returns its DSN.
func postgresDatabase(t *testing.T) string {
	t.Helper()
	base := os.Getenv("USAGELOG_TEST_POSTGRES")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("usagelog_replicas_%d_%d", os.Getpid(), time.Now().UnixNano()%1_000_000)
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		admin.Close()
		t.Fatalf("postgres at %s: %v (scripts/test.sh installs and starts it)", base, err)
	}
	t.Cleanup(func() {
		admin.Exec(`DROP DATABASE ` + name + ` WITH (FORCE)`)
		admin.Close()
	})
	u, _ := url.Parse(base)
	u.Path = "/" + name
	return u.String()
}

// clickhouseDatabase names a database of its own on the test ClickHouse
// (USAGELOG_TEST_CLICKHOUSE, which scripts/test.sh sets), dropped after.
func clickhouseDatabase(t *testing.T) string {
	t.Helper()
	server := os.Getenv("USAGELOG_TEST_CLICKHOUSE")
	if server == "" {
		server = "127.0.0.1:9000"
	}
	dsn := fmt.Sprintf("clickhouse://%s/usagelog_replicas_%d_%d", server, os.Getpid(), time.Now().UnixNano()%1_000_000)
	t.Cleanup(func() {
		if s, err := clickhouse.Open(context.Background(), dsn); err == nil {
			s.DropDatabase(context.Background())
			s.Close()
		}
	})
	return dsn
}

// s3Bucket names a bucket of its own on the test S3 server
// (USAGELOG_TEST_S3, which scripts/test.sh sets after starting MinIO).
func s3Bucket(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("USAGELOG_TEST_S3")
	if dsn == "" {
		dsn = "s3://usagelog:usagelog-test-secret@127.0.0.1:9100/usagelog-test?secure=false"
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = fmt.Sprintf("/replicas-%d-%d", os.Getpid(), time.Now().UnixNano()%1_000_000)
	return u.String()
}

// TestReplicasShareClickHouseAndPostgres runs two servers, each with a
// data folder of its own, on one ClickHouse (events), one PostgreSQL
// (metadata) and one S3 bucket (files): a key made once works on both,
// events ingested through one are exported by a job submitted to the
// other and followed through the first, and the file downloads from the
// presigned link either of them gives.
func TestReplicasShareClickHouseAndPostgres(t *testing.T) {
	meta := postgresDatabase(t)
	events := clickhouseDatabase(t)
	files := s3Bucket(t)
	dataA, dataB := t.TempDir(), t.TempDir()
	a := startServer(t, "--data", dataA, "--meta", meta, "--events", events, "--files", files)
	defer a.stop(t)
	b := startServer(t, "--data", dataB, "--meta", meta, "--events", events, "--files", files)
	defer b.stop(t)
	key := run(t, nil, "keys", "create", "--data", dataA, "--meta", meta, "--events", events, "--name", "replicas", "--scope", "EVENTS_WRITE", "--scope", "LOGS_READ")
	token := strings.TrimSpace(key.stdout)
	if key.code != 0 || token == "" {
		t.Fatalf("keys create: %+v", key)
	}

	var nd strings.Builder
	fixture := storetest.Fixture(2_000)
	for i := range fixture {
		line, _ := ingest.MarshalJSON(&fixture[i])
		nd.Write(line)
		nd.WriteByte('\n')
	}
	file := filepath.Join(t.TempDir(), "events.ndjson")
	os.WriteFile(file, []byte(nd.String()), 0o600)
	if r := run(t, nil, "ingest", file, "--server", a.url, "--token", token); r.code != 0 {
		t.Fatalf("ingest through A: %+v", r)
	}

	call := func(method, u, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	status, body := call("POST", b.url+"/api/v1/exports", `{"report":"api-logs","format":"csv"}`)
	if status != 202 {
		t.Fatalf("job through B: %d %s", status, body)
	}
	var job struct {
		ID, Status, DownloadURL, Error string
		RecordCount                    int64
	}
	json.Unmarshal(body, &job)
	deadline := time.Now().Add(60 * time.Second)
	for job.Status != "succeeded" {
		if job.Status == "failed" || time.Now().After(deadline) {
			t.Fatalf("job %s: %s %s", job.ID, job.Status, job.Error)
		}
		time.Sleep(100 * time.Millisecond)
		// Followed through A: both replicas read the one job table.
		_, body = call("GET", a.url+"/api/v1/exports/"+job.ID, "")
		json.Unmarshal(body, &job)
	}
	if job.RecordCount < 2_000 {
		t.Errorf("the job exported %d rows, want the 2,000 ingested through A (and the API's own calls)", job.RecordCount)
	}
	// The link is the bucket's, presigned: no replica serves the file.
	link, _ := url.Parse(job.DownloadURL)
	if bucket, _ := url.Parse(files); link.Host != bucket.Host {
		t.Errorf("download link %s is not the bucket's", link.Redacted())
	}
	resp, err := http.Get(link.String())
	if err != nil {
		t.Fatal(err)
	}
	csv, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || int64(strings.Count(string(csv), "\n")) != job.RecordCount+1 {
		t.Errorf("download: %d, %d lines for %d rows", resp.StatusCode, strings.Count(string(csv), "\n"), job.RecordCount)
	}
	tampered := link.String() + "x"
	if resp, err := http.Get(tampered); err == nil {
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("tampered link: %d", resp.StatusCode)
		}
	}

	// A member erased through B, followed through A: their calls go from
	// ClickHouse, the export file that held them from the bucket (its
	// presigned link finds nothing), the receipt is in PostgreSQL.
	adminKey := run(t, nil, "keys", "create", "--data", dataA, "--meta", meta, "--events", events, "--name", "admin", "--scope", "WORKSPACE_ADMIN")
	admin := strings.TrimSpace(adminKey.stdout)
	var theirs int64
	for _, e := range fixture {
		if e.MemberID == "3" {
			theirs++
		}
	}
	req, _ := http.NewRequest("POST", b.url+"/api/v1/erasures", strings.NewReader(`{"match":{"member_id":"3"},"delete_files":true}`))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("erasure through B: %d %s", resp.StatusCode, body)
	}
	var er struct {
		ID, Status, Error string
		Removed           map[string]int64
		Files             []struct {
			Path    string
			Deleted bool
		}
	}
	json.Unmarshal(body, &er)
	for deadline := time.Now().Add(120 * time.Second); er.Status != "done"; time.Sleep(100 * time.Millisecond) {
		if er.Status == "failed" || time.Now().After(deadline) {
			t.Fatalf("erasure %s: %s %s", er.ID, er.Status, er.Error)
		}
		req, _ := http.NewRequest("GET", a.url+"/api/v1/erasures/"+er.ID, nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		json.Unmarshal(body, &er)
	}
	if er.Removed["api_request"] != theirs || len(er.Files) != 1 || !er.Files[0].Deleted {
		t.Errorf("receipt: %s (want %d calls removed and the job's file deleted)", body, theirs)
	}
	if resp, err := http.Get(link.String()); err == nil {
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("the erased export's link: %d, want 404", resp.StatusCode)
		}
	}
	var left int
	for cursor := ""; ; {
		_, body = call("GET", a.url+"/api/v1/logs?limit=1000&cursor="+url.QueryEscape(cursor), "")
		var page struct {
			Items []struct {
				MemberID string `json:"member_id"`
			}
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("logs: %v %s", err, body)
		}
		for _, it := range page.Items {
			if it.MemberID == "3" {
				t.Fatal("member 3's calls are still in the logs")
			}
			left++
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if left < 2_000-int(theirs) {
		t.Errorf("%d calls left in the logs, want the other members' %d", left, 2_000-theirs)
	}
}
