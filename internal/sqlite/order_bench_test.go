package sqlite_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/usage"
)

// BenchmarkArrivalOrder builds stores of USAGELOG_BENCH_ORDER_EVENTS
// api_request events (default 1,000,000) through Append in batches of
// 10,000, as ingest stores them, once with the events in time order and
// once in random time order; then exports every row to CSV and reads the
// first logs page. Metrics: ingest events/s, export rows/s, first-page ms
// and the file's bytes per event. A store whose events arrived out of
// time order keeps them in arrival order behind its time index, which
// the export then reads a random page a row.
//
// rollup-batch=1 adds each batch to the rollups as it is stored, as
// stores did before the rollup tail; the default adds them in folds of
// sqlite.DefaultRollupBatch events.
func BenchmarkArrivalOrder(b *testing.B) {
	n := envInt(b, "USAGELOG_BENCH_ORDER_EVENTS", 1_000_000)
	for _, order := range []string{"time", "random"} {
		for _, rb := range []int{1, sqlite.DefaultRollupBatch} {
			b.Run("order="+order+"/rollup-batch="+strconv.Itoa(rb), func(b *testing.B) {
				for range b.N {
					arrival(b, n, order == "random", rb)
				}
			})
		}
	}
}

func arrival(b *testing.B, n int, random bool, rollupBatch int) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "u.db")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path, RollupBatch: rollupBatch})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	if random {
		r := rand.New(rand.NewPCG(1, 2))
		r.Shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	}
	const batch = 10_000
	events := make([]usage.Event, 0, batch)
	start := time.Now()
	for i := 0; i < n; i += batch {
		events = events[:0]
		for _, j := range idx[i:min(i+batch, n)] {
			events = append(events, orderEvent(int(j), n, end))
		}
		if _, err := s.Append(ctx, 1, events); err != nil {
			b.Fatal(err)
		}
	}
	ingest := time.Since(start)
	b.ReportMetric(float64(n)/ingest.Seconds(), "ingest-events/s")

	start = time.Now()
	var out byteCounter
	rows, err := export.Write(ctx, export.APIUsage, s.ScanLogs(ctx, 1, usage.LogFilter{}, export.APIUsage.Reads...), time.UTC, export.NewWriter(export.CSVFormat, &out, "api-usage"), nil)
	if err != nil || rows != n {
		b.Fatalf("%d rows, %v", rows, err)
	}
	b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "export-rows/s")

	const pages = 20
	start = time.Now()
	for range pages {
		if _, err := s.Logs(ctx, 1, usage.LogQuery{Limit: 100}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/pages/1000, "first-page-ms")
	s.Close()
	var size int64
	for _, f := range []string{path, path + "-wal"} {
		if st, err := os.Stat(f); err == nil {
			size += st.Size()
		}
	}
	b.ReportMetric(float64(size)/float64(n), "bytes/event")
}

// orderEvent is the i-th of n calls spread evenly over the year before
// end.
func orderEvent(i, n int, end time.Time) usage.Event {
	step := 365 * 24 * time.Hour / time.Duration(n)
	clients := []string{"Slack integration", "Claude MCP", "Data Team", "Cursor IDE"}
	statuses := []int{200, 200, 200, 201, 401, 404, 500, 429}
	return usage.Event{Kind: usage.KindAPIRequest, ID: "e" + strconv.Itoa(i), Time: end.Add(-365 * 24 * time.Hour).Add(time.Duration(i) * step),
		Method: "GET", URL: "/a/rest/v1/ideas/" + strconv.Itoa(i%5000), Endpoint: "/a/rest/v1/ideas/{id}", Status: statuses[i%8],
		Community: []string{"Product Ideas", "Support", "Research"}[i%3], Collection: []string{"AI assistant", "Ideas API"}[i%2],
		CollectionType: []string{"recipe", "proxy"}[i%2], Client: clients[i%4], MemberID: "m-" + strconv.Itoa(i%300),
		MemberName: "Member " + strconv.Itoa(i%300), IP: "198.51.100." + strconv.Itoa(i%250),
		UserAgent: []string{"PostmanRuntime/7.43.3", "ideascale-mcp-server/1.0.0"}[i%2], TimingMS: int64(i % 900),
		ClientClass: []usage.ClientClass{"rest_client", "mcp"}[i%2], UsageType: []usage.Type{"other", "mcp"}[i%2]}
}
