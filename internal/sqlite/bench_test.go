package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// BenchmarkAppend measures batched inserts of api_request events, the
// bulk of ingest.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	s := open(b)
	const batch = 2000
	events := storetest.Fixture(batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range events {
			events[j].ID = fmt.Sprintf("e-%d-%d", i, j)
		}
		if _, err := s.Append(ctx, 1, events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkLogsFirstPage reads the first page (100 rows) of one day's
// logs from a store of USAGELOG_BENCH_EVENTS api_request events spread
// over a year (default 1,000,000; the bench script uses 10,000,000). The
// store is built once and kept in the temp directory between runs.
func BenchmarkLogsFirstPage(b *testing.B) {
	ctx := context.Background()
	n := 1_000_000
	if v := os.Getenv("USAGELOG_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	s := benchStore(b, n, end)
	day := end.AddDate(0, 0, -3)
	cases := []struct {
		name string
		f    usage.LogFilter
	}{
		{"Unfiltered", usage.LogFilter{From: day, To: day.AddDate(0, 0, 1)}},
		{"Errors", usage.LogFilter{From: day, To: day.AddDate(0, 0, 1), StatusClasses: []int{4, 5}}},
		{"OneClientMCP", usage.LogFilter{From: day, To: day.AddDate(0, 0, 1), Clients: []string{"Data Team"}, UsageType: usage.UsageMCP}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				page, err := s.Logs(ctx, 1, usage.LogQuery{LogFilter: c.f, Limit: 101})
				if err != nil {
					b.Fatal(err)
				}
				if len(page) == 0 {
					b.Fatal("empty page")
				}
			}
		})
	}
}

// benchStore opens (building on first use) a store of n api_request events
// evenly spread over the year before end.
func benchStore(b *testing.B, n int, end time.Time) *sqlite.Store {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("usagelog-bench-logs-%d.db", n))
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	have, err := s.Count(ctx, 1, usage.KindAPIRequest)
	if err != nil {
		b.Fatal(err)
	}
	if have == int64(n) {
		return s
	}
	if have != 0 {
		b.Fatalf("%s holds %d events, want 0 or %d: remove it", path, have, n)
	}
	b.Logf("building %s with %d events (once)", path, n)
	template := storetest.Fixture(10000)
	span := end.Sub(end.AddDate(-1, 0, 0))
	step := span / time.Duration(n)
	start := end.Add(-span)
	for done := 0; done < n; done += len(template) {
		batch := template[:min(len(template), n-done)]
		for j := range batch {
			k := done + j
			batch[j].ID = fmt.Sprintf("ev-%09d", k)
			batch[j].Time = start.Add(time.Duration(k) * step).Truncate(time.Millisecond)
		}
		if _, err := s.Append(ctx, 1, batch); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkExport streams every api_request of a 1,000,000-event store
// (USAGELOG_BENCH_EXPORT_EVENTS) through a report writer: SQLite scan,
// columns and formatting end to end. The target is 300,000 rows/s.
func BenchmarkExport(b *testing.B) {
	ctx := context.Background()
	n := 1_000_000
	if v := os.Getenv("USAGELOG_BENCH_EXPORT_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	s := benchStore(b, n, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	for _, f := range []export.Format{export.CSVFormat, export.XLSXFormat} {
		b.Run(string(f), func(b *testing.B) {
			var out byteCounter
			for i := 0; i < b.N; i++ {
				rows, err := export.Write(ctx, export.APIUsage, s.ScanLogs(ctx, 1, usage.LogFilter{}, export.APIUsage.Reads...), time.UTC, export.NewWriter(f, &out, "api-usage"), nil)
				if err != nil || rows != n {
					b.Fatalf("%d rows, %v", rows, err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

type byteCounter int64

func (c *byteCounter) Write(p []byte) (int, error) { *c += byteCounter(len(p)); return len(p), nil }
