package sqlite_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// BenchmarkArrivalOrder builds stores of USAGELOG_BENCH_ORDER_EVENTS
// api_request events (default 1,000,000) through Append in batches of
// 10,000, as ingest stores them, once with the events in time order and
// once in random time order (storetest.Arrival); then exports every row to
// CSV, reads the first logs page and counts the rows. Metrics: ingest
// events/s, export rows/s, first-page ms, count ms (count-walk-ms: the
// count as a walk of every row, as before it read the rollups) and the
// file's bytes per event. A store whose events arrived out of time order
// keeps them in arrival order behind its time index, which the export
// then reads a random page a row.
//
// Then, side by side: serial-export-rows/s, the export read by one query
// on one goroutine (as before scans read time windows side by side);
// cluster-s, the rewrite in time order (Store.Cluster; 0 when none is
// due, as after ingest in time order), and cluster-swap-s, the part of it
// that writers wait for; and after it clustered-export-rows/s
// with the export's peak heap (clustered-export-heap-MB), the first page
// (clustered-first-page-ms) and bytes/event.
//
// Ingest appends to the arrivals while the background merge moves them
// into the events table; the export, the first page and the count read
// both. merge-rest-s is how long the merge then takes to finish.
func BenchmarkArrivalOrder(b *testing.B) {
	n := storetest.EnvInt(b, "USAGELOG_BENCH_ORDER_EVENTS", 1_000_000)
	for _, order := range []string{"time", "random"} {
		b.Run("order="+order, func(b *testing.B) {
			for range b.N {
				arrival(b, n, order == "random")
			}
		})
	}
}

func arrival(b *testing.B, n int, random bool) {
	path := filepath.Join(b.TempDir(), "u.db")
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	storetest.Arrival(b, s, n, random, exportAPIUsage(s))
	start := time.Now()
	if _, err := s.Merge(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "merge-rest-s")
	// The count as it was, a walk of every row, beside Arrival's count-ms.
	start = time.Now()
	if got, err := sqlite.CountEvents(ctx, s, 1, usage.LogFilter{}); err != nil || got != int64(n) {
		b.Fatalf("count: %d, %v; want %d", got, err, n)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "count-walk-ms")

	sqlite.SetScanWorkers(s, 1)
	b.ReportMetric(exportRate(b, s, n), "serial-export-rows/s")
	sqlite.SetScanWorkers(s, runtime.GOMAXPROCS(0))

	res, err := s.Cluster(ctx, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric((res.Copy + res.Swap + res.Retire).Seconds(), "cluster-s")
	b.ReportMetric(res.Swap.Seconds(), "cluster-swap-s")
	peak := storetest.PeakHeap()
	b.ReportMetric(exportRate(b, s, n), "clustered-export-rows/s")
	b.ReportMetric(float64(peak())/(1<<20), "clustered-export-heap-MB")
	start = time.Now()
	if _, err := s.Logs(ctx, 1, usage.LogQuery{Limit: 100}); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "clustered-first-page-ms")
	s.Close()
	var size int64
	for _, f := range []string{path, path + "-wal", path + "-arrivals", path + "-arrivals-wal"} {
		if st, err := os.Stat(f); err == nil {
			size += st.Size()
		}
	}
	b.ReportMetric(float64(size)/float64(n), "bytes/event")
}

// exportRate exports every row of s and returns the rows a second.
func exportRate(b *testing.B, s *sqlite.Store, n int) float64 {
	start := time.Now()
	rows, err := exportAPIUsage(s)(context.Background())
	if err != nil || rows != n {
		b.Fatalf("%d rows, %v; want %d", rows, err, n)
	}
	return float64(rows) / time.Since(start).Seconds()
}

// exportAPIUsage writes workspace 1's api-usage CSV export of s to nowhere.
func exportAPIUsage(s usage.LogScanner) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		return export.Write(ctx, export.APIUsage, s.ScanLogs(ctx, 1, usage.LogFilter{}, export.APIUsage.Reads...), time.UTC,
			export.NewWriter(export.CSVFormat, io.Discard, "api-usage"), nil)
	}
}
