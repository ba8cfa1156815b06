package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

func gzipped(t *testing.T, s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstded(t *testing.T, s string) []byte {
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return zw.EncodeAll([]byte(s), nil)
}

// TestCompressedBodies: gzip and zstd bodies are read as their
// Content-Encoding says; the body limit applies to the decompressed bytes
// (a bomb is 413 with 4131); an encoding not taken is 415; a corrupt
// stream is 400.
func TestCompressedBodies(t *testing.T) {
	h := newHarness(t, 1<<20)
	token := h.key(h.ws, usage.ScopeEventsWrite)
	body := ndjson(t, storetest.Fixture(300))
	bomb := `{"kind":"api_request","id":"x","time":"2026-03-08T00:00:00Z","status":200,"url":"` + strings.Repeat("a", 8<<20) + `"}`
	for _, c := range []struct {
		name, encoding string
		body           []byte
		status, gw     int
		accepted       float64
	}{
		{"gzip", "gzip", gzipped(t, body), 200, 0, 300},
		{"zstd", "zstd", zstded(t, strings.ReplaceAll(body, `"id":"`, `"id":"z`)), 200, 0, 300},
		{"gzip bomb", "gzip", gzipped(t, bomb), 413, 4131, 0},
		{"zstd bomb", "zstd", zstded(t, bomb), 413, 4131, 0},
		{"brotli", "br", []byte(body), 415, 0, 0},
		{"not gzip", "gzip", []byte(body), 400, 0, 0},
		{"corrupt gzip", "gzip", append(gzipped(t, body)[:200], make([]byte, 50)...), 400, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := h.doWith("POST", "/api/v1/events", token, map[string]string{"Content-Type": "application/x-ndjson", "Content-Encoding": c.encoding}, bytes.NewReader(c.body))
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			m := r.json(t)
			if c.status == 200 && m["accepted"] != c.accepted {
				t.Errorf("accepted %v, want %v", m["accepted"], c.accepted)
			}
			if c.gw != 0 && m["error"].(map[string]any)["gateway_code"] != float64(c.gw) {
				t.Errorf("gateway code: %s", r.body)
			}
		})
	}
	if n, _ := h.store.Count(context.Background(), h.ws.ID, usage.KindAPIRequest); n != 600 {
		t.Errorf("stored %d, want the 600 of the two good bodies", n)
	}
}

// TestTruncatedGzipSaysWhatItStored: a gzip body cut short stores the
// batches before the break, and its 400 says how many, as a 413 does.
func TestTruncatedGzipSaysWhatItStored(t *testing.T) {
	h := newHarness(t, 0)
	token := h.key(h.ws, usage.ScopeEventsWrite)
	z := gzipped(t, ndjson(t, storetest.Fixture(10000)))
	r := h.doWith("POST", "/api/v1/events", token, map[string]string{"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}, bytes.NewReader(z[:len(z)*3/4]))
	if r.status != 400 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	m := r.json(t)
	accepted, ok := m["accepted"].(float64)
	stored, _ := h.store.Count(context.Background(), h.ws.ID, usage.KindAPIRequest)
	if !ok || accepted == 0 || int64(accepted) != stored || m["duplicates"] != float64(0) {
		t.Fatalf("accepted %v, duplicates %v; stored %d: %s", m["accepted"], m["duplicates"], stored, r.body)
	}
	if msg := m["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "corrupt") || !strings.Contains(msg, fmt.Sprintf("the %d events before it were stored", stored)) {
		t.Errorf("message %q", msg)
	}
}
