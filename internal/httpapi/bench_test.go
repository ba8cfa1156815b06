package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
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
	"github.com/usagelog/usagelog/internal/demo"
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
// shape=spread is storetest.Fixture's calls a minute apart (a body is a
// week of them, nearly every call a rollup row of its own); shape=demo is
// the demo generator's calls (its clients, collections, communities,
// statuses and timings) arriving at 50,000,000 a year, a body the next
// 1.75 hours of them.
func BenchmarkIngestHTTPClickHouse(b *testing.B) {
	dsn := fmt.Sprintf("clickhouse://%s/usagelog_bench_%d", clickhouseServer(), os.Getpid())
	for _, shape := range []string{"spread", "demo"} {
		for _, clients := range []int{1, 4} {
			for _, rollups := range []string{"on", "off"} {
				b.Run(fmt.Sprintf("shape=%s/clients=%d/rollups=%s", shape, clients, rollups), func(b *testing.B) {
					ingestClickHouse(b, dsn, shape, clients, rollups == "on")
				})
			}
		}
	}
}

// BenchmarkIngestHTTPClickHouseCluster is BenchmarkIngestHTTPClickHouse's
// demo-shaped bodies into one server (USAGELOG_TEST_CLICKHOUSE) and into
// the cluster of two shards of two replicas
// (USAGELOG_TEST_CLICKHOUSE_CLUSTER, scripts/clickhouse-cluster.sh), side
// by side: what the cluster's synchronous inserts into Distributed
// tables, rollups in the insert and replication cost on one machine.
func BenchmarkIngestHTTPClickHouseCluster(b *testing.B) {
	cluster := os.Getenv("USAGELOG_TEST_CLICKHOUSE_CLUSTER")
	if cluster == "" {
		cluster = "clickhouse://127.0.0.1:9201,127.0.0.1:9202,127.0.0.1:9203,127.0.0.1:9204/{db}?cluster=usagelog"
	}
	db := fmt.Sprintf("usagelog_bench_%d", os.Getpid())
	dsns := map[string]string{
		"server":  fmt.Sprintf("clickhouse://%s/%s", clickhouseServer(), db),
		"cluster": strings.ReplaceAll(cluster, "{db}", db),
	}
	for _, clients := range []int{1, 4} {
		for _, store := range []string{"server", "cluster"} {
			b.Run(fmt.Sprintf("clients=%d/store=%s", clients, store), func(b *testing.B) {
				ingestClickHouse(b, dsns[store], "demo", clients, true)
			})
		}
	}
}

// clickhouseServer is the test ClickHouse: USAGELOG_TEST_CLICKHOUSE or the
// local default.
func clickhouseServer() string {
	if server := os.Getenv("USAGELOG_TEST_CLICKHOUSE"); server != "" {
		return server
	}
	return "127.0.0.1:9000"
}

// demoCalls are n of the demo generator's api_request events (seed 1),
// one after another at the pace of 50,000,000 calls a year from start.
func demoCalls(b *testing.B, n int, start time.Time) []usage.Event {
	b.Helper()
	var out []usage.Event
	pace := time.Duration(float64(365*24*time.Hour) / 50_000_000)
	_, err := demo.Generate(context.Background(), demo.Config{Seed: 1, End: start, Scale: math.Ceil(float64(n)/180_000) + 1},
		func(_ context.Context, batch []usage.Event) error {
			for _, e := range batch {
				if e.Kind == usage.KindAPIRequest && len(out) < n {
					e.Time = usage.TruncateMS(start.Add(time.Duration(len(out)) * pace))
					out = append(out, e)
				}
			}
			if len(out) == n {
				return errEnough
			}
			return nil
		})
	if err != nil && !errors.Is(err, errEnough) {
		b.Fatal(err)
	}
	return out
}

var errEnough = errors.New("enough")

// ingestClickHouse posts b.N bodies of 10,000 events of shape from clients
// concurrent clients into a new store on dsn, dropped after, with the
// rollup views or without them.
func ingestClickHouse(b *testing.B, dsn, shape string, clients int, rollups bool) {
	ctx := context.Background()
	events, err := clickhouse.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { events.DropDatabase(ctx); events.Close() }()
	if !rollups {
		dropRollupViews(b, dsn)
	}
	h := newHarness(b, 0, func(c *httpapi.Config) { c.Events = events })
	if shape == "demo" {
		const n = 10000
		calls := demoCalls(b, b.N*n, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
		bodies := make([][]usage.Event, b.N)
		for i := range bodies {
			bodies[i] = calls[i*n : (i+1)*n]
		}
		postEachBody(b, h, h.key(h.ws, usage.ScopeEventsWrite), bodies, clients, "")
		if got, _ := events.Count(context.Background(), h.ws.ID, usage.KindAPIRequest); got != int64(len(calls)) {
			b.Fatalf("stored %d, want %d", got, len(calls))
		}
		b.ReportMetric(float64(len(calls))/b.Elapsed().Seconds(), "events/s")
		return
	}
	benchIngest(b, h, events, clients, "")
}

// dropRollupViews drops the views that keep the rollups of the store at
// dsn: what is left is the events table's own cost.
func dropRollupViews(b *testing.B, dsn string) {
	opts, err := ch.ParseDSN(dsn)
	if err != nil {
		b.Fatal(err)
	}
	db := ch.OpenDB(opts)
	defer db.Close()
	for _, v := range clickhouse.RollupViews {
		if _, err := db.ExecContext(context.Background(), "DROP TABLE "+v); err != nil {
			b.Fatal(err)
		}
	}
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
	events := make([][]usage.Event, b.N)
	for i := range events {
		ev := slices.Clone(template)
		for j := range ev {
			ev[j].ID = fmt.Sprintf("b%d-%s", i, ev[j].ID)
			ev[j].Time = ev[j].Time.Add(time.Duration(i*n) * time.Minute)
		}
		events[i] = ev
	}
	postEachBody(b, h, token, events, clients, encoding)
}

// postEachBody posts each of events as an NDJSON body, from clients
// concurrent clients, with Content-Encoding encoding ("" or gzip), timed.
func postEachBody(b *testing.B, h *harness, token string, events [][]usage.Event, clients int, encoding string) {
	bodies := make([][]byte, len(events))
	size := 0
	for i, ev := range events {
		bodies[i] = []byte(ndjson(b, ev))
		size += len(bodies[i])
		if encoding == "gzip" {
			var z bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
			zw.Write(bodies[i])
			zw.Close()
			bodies[i] = z.Bytes()
		}
	}
	b.SetBytes(int64(size / len(bodies)))
	postRaw(b, h, token, "/api/v1/events", "application/x-ndjson", encoding, bodies, clients)
}

// postRaw posts bodies to path from clients concurrent clients, the
// benchmark's timer running from the first.
func postRaw(b *testing.B, h *harness, token, path, contentType, encoding string, bodies [][]byte, clients int) {
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Int64
	g, _ := errgroup.WithContext(context.Background())
	for range clients {
		g.Go(func() error {
			for i := int(next.Add(1) - 1); i < len(bodies); i = int(next.Add(1) - 1) {
				req, _ := http.NewRequest("POST", h.url+path, bytes.NewReader(bodies[i]))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", contentType)
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
					if log, err = audit.New(audit.Config{Store: c.Meta.(usage.AuditStore)}); err != nil {
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

// BenchmarkIngestRedaction is ingest of the demo's calls over HTTP into
// SQLite, bodies of 10,000, with the default redaction rules and with
// none, side by side: what redaction costs ingest (at most 5%). One call
// in ten carries a secret in its query, one in fifty an email in its path
// and one in fifty a key in its user agent, so that redaction also
// rewrites, as it would for a service that leaks them.
func BenchmarkIngestRedaction(b *testing.B) {
	for _, rules := range []string{"default", "none"} {
		b.Run("redaction="+rules, func(b *testing.B) {
			h := newHarness(b, 0)
			if rules == "none" {
				r := h.do("PUT", "/api/v1/workspace/redaction", h.key(h.ws, usage.ScopeWorkspaceAdmin), "application/json",
					strings.NewReader(`{"query_params":[],"path_patterns":[],"ip":"full"}`))
				if r.status != 200 {
					b.Fatalf("redaction: %d %s", r.status, r.body)
				}
			}
			const n = 10_000
			calls := demoCalls(b, b.N*n, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
			storetest.Leaky(calls)
			bodies := make([][]usage.Event, b.N)
			for i := range bodies {
				bodies[i] = calls[i*n : (i+1)*n]
			}
			postEachBody(b, h, h.key(h.ws, usage.ScopeEventsWrite), bodies, 1, "")
			if got, _ := h.store.Count(context.Background(), h.ws.ID, usage.KindAPIRequest); got != int64(len(calls)) {
				b.Fatalf("stored %d, want %d", got, len(calls))
			}
			b.ReportMetric(float64(len(calls))/b.Elapsed().Seconds(), "events/s")
		})
	}
}
