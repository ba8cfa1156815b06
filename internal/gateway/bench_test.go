package gateway_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usagelog/usagelog/capture"
	"github.com/usagelog/usagelog/internal/gateway"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/usage"
)

// load sends n GET requests to target at a fixed rate (open loop: request
// i is due at start + i/rate whether or not earlier ones have answered)
// and returns each request's latency, from when it was sent to when its
// answer was read.
func load(tb testing.TB, target, token string, n, rate int) []time.Duration {
	tb.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256, DialContext: (&net.Dialer{}).DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var failed atomic.Int64
	start := time.Now().Add(10 * time.Millisecond)
	interval := time.Second / time.Duration(rate)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				due := start.Add(time.Duration(i) * interval)
				time.Sleep(time.Until(due))
				sent := time.Now()
				req, _ := http.NewRequest("GET", target+"/orders/"+strconv.Itoa(i), nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
				lat[i] = time.Since(sent)
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		tb.Fatalf("%d of %d requests failed", f, n)
	}
	return lat
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
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
	flushEvery, _ := time.ParseDuration(os.Getenv("X_FLUSH"))
	ctx := context.Background()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer upstream.Close()
	for b.Loop() {
		st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "usagelog.db")})
		if err != nil {
			b.Fatal(err)
		}
		ws, _ := st.EnsureWorkspace(ctx, usage.DefaultWorkspace)
		col, _ := usage.NewCollection(ws.ID, usage.Collection{Name: "Orders", Active: true, Endpoints: []string{"GET /orders/{id}"}}, time.Now())
		st.CreateCollection(ctx, col)
		token, cl, _ := usage.NewClient(col, "load", time.Now())
		st.CreateClient(ctx, cl)
		var sink capture.Sink = capture.Store(st, ws.ID, nil)
		if os.Getenv("X_DISCARD") != "" {
			sink = discard{}
		}
		rec, err := capture.New(capture.Config{Sink: sink, SpoolDir: b.TempDir(), FlushEvery: flushEvery})
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
		b.ReportMetric(float64(percentile(via, 0.5).Microseconds()), "gw-p50-µs")
		b.ReportMetric(float64(percentile(via, 0.99).Microseconds()), "gw-p99-µs")
		b.ReportMetric(float64(percentile(direct, 0.5).Microseconds()), "direct-p50-µs")
		b.ReportMetric(float64(percentile(direct, 0.99).Microseconds()), "direct-p99-µs")
		b.ReportMetric(float64((percentile(via, 0.99) - percentile(direct, 0.99)).Microseconds()), "added-p99-µs")
		b.ReportMetric(float64(int64(n)-stored), "lost")
		b.ReportMetric(float64(s.Dropped), "dropped")
		b.ReportMetric(float64(n), "requests")
	}
}

type discard struct{}

func (discard) Send(context.Context, []usage.Event) error { return nil }
