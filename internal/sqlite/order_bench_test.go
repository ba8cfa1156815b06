package sqlite_test

import (
	"context"
	"io"
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
// rollup-batch=1 adds each batch to the rollups as it is stored, as
// stores did before the rollup tail; the default adds them in folds of
// sqlite.DefaultRollupBatch events.
func BenchmarkArrivalOrder(b *testing.B) {
	n := storetest.EnvInt(b, "USAGELOG_BENCH_ORDER_EVENTS", 1_000_000)
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
	path := filepath.Join(b.TempDir(), "u.db")
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path, RollupBatch: rollupBatch})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.Arrival(b, s, n, random, exportAPIUsage(s))
	// The count as it was, a walk of every row, beside Arrival's count-ms.
	start := time.Now()
	if got, err := sqlite.CountEvents(context.Background(), s, 1, usage.LogFilter{}); err != nil || got != int64(n) {
		b.Fatalf("count: %d, %v; want %d", got, err, n)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "count-walk-ms")
	s.Close()
	var size int64
	for _, f := range []string{path, path + "-wal"} {
		if st, err := os.Stat(f); err == nil {
			size += st.Size()
		}
	}
	b.ReportMetric(float64(size)/float64(n), "bytes/event")
}

// exportAPIUsage writes workspace 1's api-usage CSV export of s to nowhere.
func exportAPIUsage(s usage.LogScanner) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		return export.Write(ctx, export.APIUsage, s.ScanLogs(ctx, 1, usage.LogFilter{}, export.APIUsage.Reads...), time.UTC,
			export.NewWriter(export.CSVFormat, io.Discard, "api-usage"), nil)
	}
}
