package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// BenchmarkIngestHTTP posts NDJSON bodies of 10,000 api_request events
// through the real HTTP server into SQLite; events/s is the figure the
// foundation issue sets at 100,000 or more.
func BenchmarkIngestHTTP(b *testing.B) {
	h := newHarness(b, 0)
	token := h.key(h.ws, usage.ScopeEventsWrite)
	const n = 10000
	template := ndjson(b, storetest.Fixture(n))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		body := strings.ReplaceAll(template, `"id":"req-`, fmt.Sprintf(`"id":"b%d-`, i))
		b.SetBytes(int64(len(body)))
		b.StartTimer()
		req, _ := http.NewRequest("POST", h.url+"/api/v1/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.StopTimer()
	if got, _ := h.store.Count(context.Background(), h.ws.ID, usage.KindAPIRequest); got != int64(b.N*n) {
		b.Fatalf("stored %d, want %d", got, b.N*n)
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
}
