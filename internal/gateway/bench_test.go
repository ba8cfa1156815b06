package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/usagelog/usagelog/capture"
	"github.com/usagelog/usagelog/internal/gateway"
	"github.com/usagelog/usagelog/internal/loadgen"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// load sends n requests through loadgen and fails the benchmark on any
// failure.
func load(tb testing.TB, target, token string, n, rate int) loadgen.Result {
	tb.Helper()
	res, err := loadgen.Run(context.Background(), loadgen.Config{URL: target + "/orders", Header: http.Header{"Authorization": {"Bearer " + token}}, Rate: rate, Requests: n})
	if err != nil {
		tb.Fatal(err)
	}
	if res.Failed > 0 {
		tb.Fatalf("%d of %d requests failed", res.Failed, n)
	}
	return res
}

// BenchmarkGatewayLoad drives the gateway at 5,000 requests/s on loopback
// against a trivial upstream, recording into SQLite, and then the upstream
// directly at the same rate. It reports the p50 and p99 latency of both, the
// p99 the gateway adds, and how many of the proxied calls are missing from
// the store after the recorder is closed (lost). -benchtime Nx sets the
// requests per run; the bench script uses USAGELOG_BENCH_GATEWAY_REQUESTS
// (default 100,000) and the capture issue's figure is 1,000,000.
func BenchmarkGatewayLoad(b *testing.B) {
	n := 100_000
	if v := os.Getenv("USAGELOG_BENCH_GATEWAY_REQUESTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	const rate = 5000
	ctx := context.Background()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer upstream.Close()
	for b.Loop() {
		st := sqlitetest.Open(b)
		ws, _ := st.EnsureWorkspace(ctx, usage.DefaultWorkspace)
		col, _ := usage.NewCollection(ws.ID, usage.Collection{Name: "Orders", Active: true, Endpoints: []string{"GET /orders/{id}"}}, time.Now())
		st.CreateCollection(ctx, col)
		token, cl, _ := usage.NewClient(col, "load", time.Now())
		st.CreateClient(ctx, cl)
		rec, err := capture.New(capture.Config{Sink: gateway.StoreSink(st, ws.ID, nil), SpoolDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		up, _ := url.Parse(upstream.URL)
		gw, err := gateway.New(ctx, gateway.Config{Upstream: up, Directory: gateway.StoreDirectory{Meta: st, WorkspaceID: ws.ID, Collection: "Orders"}, Recorder: rec})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(gw)

		via := load(b, srv.URL, token, n, rate)
		direct := load(b, upstream.URL, token, min(n, 100_000), rate)
		srv.Close()
		if err := rec.Close(ctx); err != nil {
			b.Fatal(err)
		}
		stored, err := st.Count(ctx, ws.ID, usage.KindAPIRequest)
		if err != nil {
			b.Fatal(err)
		}
		st.Close()
		s := rec.Stats()
		b.ReportMetric(float64(via.Percentile(0.5).Microseconds()), "gw-p50-µs")
		b.ReportMetric(float64(via.Percentile(0.99).Microseconds()), "gw-p99-µs")
		b.ReportMetric(float64(direct.Percentile(0.5).Microseconds()), "direct-p50-µs")
		b.ReportMetric(float64(direct.Percentile(0.99).Microseconds()), "direct-p99-µs")
		b.ReportMetric(float64((via.Percentile(0.99) - direct.Percentile(0.99)).Microseconds()), "added-p99-µs")
		b.ReportMetric(float64(int64(n)-stored), "lost")
		b.ReportMetric(float64(s.Dropped), "dropped")
		b.ReportMetric(float64(n), "requests")
	}
}
