package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/usagelog/usagelog/internal/audit"
	"github.com/usagelog/usagelog/internal/clickhouse"
	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// BenchmarkIngestHTTP posts NDJSON bodies of 10,000 api_request events
// through the real HTTP server into SQLite; events/s is the figure the
// foundation issue sets at 100,000 or more.
func BenchmarkIngestHTTP(b *testing.B) {
	h := newHarness(b, 0)
	benchIngest(b, h, h.store, 1, "")
}

// BenchmarkIngestHTTPClickHouse is BenchmarkIngestHTTP into the ClickHouse
// event store (USAGELOG_TEST_CLICKHOUSE, default 127.0.0.1:9000), metadata
// in SQLite, from one client and from four at once; the scale-out issue
// sets 300,000 events/s. rollups=off drops the views that maintain the
// summaries' rollups, for what maintaining them costs, in the same run.
func BenchmarkIngestHTTPClickHouse(b *testing.B) {
	server := os.Getenv("USAGELOG_TEST_CLICKHOUSE")
	if server == "" {
		server = "127.0.0.1:9000"
	}
	for _, clients := range []int{1, 4} {
		for _, rollups := range []string{"on", "off"} {
			b.Run(fmt.Sprintf("clients=%d/rollups=%s", clients, rollups), func(b *testing.B) {
				ingestClickHouse(b, server, clients, rollups == "on")
			})
		}
	}
}

func ingestClickHouse(b *testing.B, server string, clients int, rollups bool) {
	ctx := context.Background()
	dsn := fmt.Sprintf("clickhouse://%s/usagelog_bench_%d", server, os.Getpid())
	events, err := clickhouse.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { events.DropDatabase(ctx); events.Close() }()
	if !rollups {
		opts, _ := ch.ParseDSN(dsn)
		db := ch.OpenDB(opts)
		for _, v := range clickhouse.RollupViews {
			if _, err := db.ExecContext(ctx, "DROP TABLE "+v); err != nil {
				b.Fatal(err)
			}
		}
		db.Close()
	}
	h := newHarness(b, 0, func(c *httpapi.Config) { c.Events = events })
	benchIngest(b, h, events, clients, "")
}

// benchIngest posts b.N bodies of 10,000 events (postBodies), checks that
// store holds them all and reports events/s.
func benchIngest(b *testing.B, h *harness, store usage.EventStore, clients int, encoding string) {
	const n = 10000
	postBodies(b, h, h.key(h.ws, usage.ScopeEventsWrite), n, clients, encoding)
	if got, _ := store.Count(context.Background(), h.ws.ID, usage.KindAPIRequest); got != int64(b.N*n) {
		b.Fatalf("stored %d, want %d", got, b.N*n)
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkIngestHTTPGzip is BenchmarkIngestHTTP with the bodies gzipped,
// as the ingest client and the capture recorder send them: what
// decompressing costs the server (MB/s is of the NDJSON, before gzip).
func BenchmarkIngestHTTPGzip(b *testing.B) {
	h := newHarness(b, 0)
	benchIngest(b, h, h.store, 1, "gzip")
}

// postBodies posts b.N NDJSON bodies of n events from clients concurrent
// clients, with Content-Encoding encoding ("" or gzip). Each body holds
// ids of its own and the n minutes after the previous body's, as a live
// stream of calls arrives.
func postBodies(b *testing.B, h *harness, token string, n, clients int, encoding string) {
	template := storetest.Fixture(n)
	bodies := make([]string, b.N)
	size := 0
	for i := range bodies {
		ev := slices.Clone(template)
		for j := range ev {
			ev[j].ID = fmt.Sprintf("b%d-%s", i, ev[j].ID)
			ev[j].Time = ev[j].Time.Add(time.Duration(i*n) * time.Minute)
		}
		bodies[i] = ndjson(b, ev)
		size += len(bodies[i])
		if encoding == "gzip" {
			var z bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
			zw.Write([]byte(bodies[i]))
			zw.Close()
			bodies[i] = z.String()
		}
	}
	b.SetBytes(int64(size / len(bodies)))
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Int64
	g, _ := errgroup.WithContext(context.Background())
	for range clients {
		g.Go(func() error {
			for i := int(next.Add(1) - 1); i < len(bodies); i = int(next.Add(1) - 1) {
				req, _ := http.NewRequest("POST", h.url+"/api/v1/events", strings.NewReader(bodies[i]))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/x-ndjson")
				if encoding != "" {
					req.Header.Set("Content-Encoding", encoding)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
}

// BenchmarkExportAudit is a synchronous export of 1,000 rows without an
// audit log and with one: what recording export.create adds to it.
func BenchmarkExportAudit(b *testing.B) {
	for _, withAudit := range []bool{false, true} {
		b.Run(fmt.Sprintf("audit=%v", withAudit), func(b *testing.B) {
			var log *audit.Log
			h := newHarness(b, 0, func(c *httpapi.Config) {
				c.RateLimits = httpapi.RateLimits{Exports: 1_000_000}
				if withAudit {
					var err error
					if log, err = audit.New(audit.Config{Store: c.Meta}); err != nil {
						b.Fatal(err)
					}
					c.Audit = log
				}
			})
			defer log.Close()
			if _, err := h.store.Append(context.Background(), h.ws.ID, storetest.Fixture(1000)); err != nil {
				b.Fatal(err)
			}
			token := h.key(h.ws, usage.ScopeLogsRead)
			b.ResetTimer()
			for range b.N {
				if r := h.do("GET", "/api/v1/exports/api-logs?format=csv", token, "", nil); r.status != 200 {
					b.Fatalf("%d %s", r.status, r.body)
				}
			}
		})
	}
}
