package ingest

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/usagelog/usagelog/internal/usage"
)

// TestClientSendsGzip: the client's batches are gzipped NDJSON.
func TestClientSendsGzip(t *testing.T) {
	var lines int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Type") != "application/x-ndjson" {
			t.Errorf("headers %v", r.Header)
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(zr)
		for sc.Scan() {
			if _, err := ParseJSON(sc.Bytes()); err != nil {
				t.Errorf("line %d: %v", lines+1, err)
			}
			lines++
		}
		w.Write([]byte(`{"accepted":2,"duplicates":0,"rejected":[]}`))
	}))
	defer srv.Close()
	at := time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)
	res, err := (&Client{BaseURL: srv.URL, Token: "t"}).Send(context.Background(), []usage.Event{
		{Kind: usage.KindAPIRequest, ID: "a", Time: at, Status: 200},
		{Kind: usage.KindAPIRequest, ID: "b", Time: at, Status: 404},
	})
	if err != nil || res.Accepted != 2 || lines != 2 {
		t.Errorf("res %+v err %v lines %d", res, err, lines)
	}
}
