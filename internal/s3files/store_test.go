package s3files_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/s3files"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// dsn is the test S3 server: USAGELOG_TEST_S3, which scripts/test.sh sets
// after starting MinIO on loopback. The tests fail, never skip, without it.
func dsn() string {
	if s := os.Getenv("USAGELOG_TEST_S3"); s != "" {
		return s
	}
	return "s3://usagelog:usagelog-test-secret@127.0.0.1:9100/usagelog-test?secure=false"
}

var seq atomic.Int64

// open returns a store on a bucket of its own.
func open(t *testing.T) *s3files.Store {
	t.Helper()
	cfg, err := s3files.ParseDSN(dsn())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Bucket = fmt.Sprintf("%s-%d-%d", cfg.Bucket, os.Getpid(), seq.Add(1))
	cfg.LinkTTL = 2 * time.Second
	s, err := s3files.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("S3 at %s: %v (scripts/test.sh builds and starts MinIO)", cfg.Endpoint, err)
	}
	return s
}

func TestFileStoreConformance(t *testing.T) {
	storetest.FileStore(t, func(t *testing.T) usage.FileStore { return open(t) })
}

// TestPresignedLinks downloads through a presigned URL, which names the
// file as an attachment, and is refused once it expires or is changed.
func TestPresignedLinks(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	w, err := s.Create(ctx, "api-usage/1/report-2026.csv")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "ID,Community Name\n1,=cmd\n")
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	link := s.URL("api-usage/1/report-2026.csv", time.Now())
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ID,Community Name\n1,=cmd\n" || !strings.Contains(resp.Header.Get("Content-Disposition"), `filename="report-2026.csv"`) {
		t.Errorf("download: %d %q, Content-Disposition %q", resp.StatusCode, body, resp.Header.Get("Content-Disposition"))
	}
	if resp, err := http.Get(strings.Replace(link, "report-2026", "report-2027", 1)); err == nil {
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("changed link: %d, want 403", resp.StatusCode)
		}
	}
	// The link lives 2 s: refused once it expired, within a deadline.
	expires := time.Now().Add(2 * time.Second)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 403 {
			if time.Now().Before(expires.Add(-time.Second)) {
				t.Errorf("refused %s before it expires", time.Until(expires))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the link still answers %d 13 s after it expired", resp.StatusCode)
		}
	}
}

func TestParseDSN(t *testing.T) {
	c, err := s3files.ParseDSN("s3://AK:SK@minio.internal:9000/exports?secure=false&region=eu-west-1")
	if err != nil || c.Endpoint != "minio.internal:9000" || c.Bucket != "exports" || c.AccessKey != "AK" || c.SecretKey != "SK" || c.Secure || c.Region != "eu-west-1" {
		t.Errorf("parse = %+v, %v", c, err)
	}
	for _, bad := range []string{"http://x/b", "s3://host/b", "s3://a:b@host", "s3://a:b@host/b/c"} {
		if _, err := s3files.ParseDSN(bad); err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), ":b@") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
}
