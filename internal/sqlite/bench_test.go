package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/demo"
	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// BenchmarkAppend measures batched inserts of api_request events, the
// bulk of ingest.
func BenchmarkAppend(b *testing.B) {
	benchAppend(b, sqlitetest.Open(b))
}

// benchAppend stores b.N batches of 2,000 new events in s.
func benchAppend(b *testing.B, s *sqlite.Store) {
	ctx := context.Background()
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

// BenchmarkAppendDurability is BenchmarkAppend with the write-ahead log
// synced at every commit (full) and at checkpoints only (normal): what
// --durability full costs ingest.
func BenchmarkAppendDurability(b *testing.B) {
	for _, d := range []sqlite.Durability{sqlite.DurabilityFull, sqlite.DurabilityNormal} {
		b.Run(string(d), func(b *testing.B) {
			s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(b.TempDir(), "u.db"), Durability: d})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchAppend(b, s)
		})
	}
}

// BenchmarkLogsFirstPage reads the first page (100 rows) of one day's
// logs from a store of USAGELOG_BENCH_EVENTS api_request events spread
// over a year (default 1,000,000; the bench script uses 10,000,000). The
// store is built once and kept in the temp directory between runs.
func BenchmarkLogsFirstPage(b *testing.B) {
	n := storetest.EnvInt(b, "USAGELOG_BENCH_EVENTS", 1_000_000)
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	s := benchStore(b, n, end)
	storetest.LogsFirstPage(b, s, end.AddDate(0, 0, -3), "Data Team")
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
	n := storetest.EnvInt(b, "USAGELOG_BENCH_EXPORT_EVENTS", 1_000_000)
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

// BenchmarkUsageReports builds "Usage Reports.zip" from a store holding a
// year of 5,000,000 sync events and 1,000,000 user_seen observations (of
// 60,000 people in six systems), built once in the temp directory. The
// issue's targets: at most 15 s and 300 MB of peak heap.
func BenchmarkUsageReports(b *testing.B) {
	ctx := context.Background()
	const syncs, seen = 5_000_000, 1_000_000
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	path := filepath.Join(os.TempDir(), "usagelog-bench-reports.db")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	have, _ := s.Count(ctx, 1, usage.KindSync)
	if have == 0 {
		b.Logf("building %s (once)", path)
		buildReportsStore(b, s, syncs, seen, now)
	} else if have != syncs {
		b.Fatalf("%s holds %d syncs, want %d: remove it", path, have, syncs)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		peak := storetest.PeakHeap()
		reports, err := export.LoadUsageReports(ctx, s, 1, now)
		if err != nil {
			b.Fatal(err)
		}
		var out byteCounter
		if err := reports.Write(ctx, &out, time.UTC); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(out), "zip-bytes")
	}
}

func buildReportsStore(b *testing.B, s *sqlite.Store, syncs, seen int, now time.Time) {
	ctx := context.Background()
	systems := []string{"Jira", "ServiceNow", "Azure DevOps", "GitHub", "Salesforce", "Zendesk"}
	types := []string{"Bug", "Story", "Task", "Incident", "Problem", "Change", "Case", "Issue", "Epic", "Request"}
	interactions := []string{"comment_author", "attachment_author", "mapped_user_field", "mention", "update_author"}
	start := now.AddDate(-1, 0, 0)
	span := now.Sub(start)
	batch := make([]usage.Event, 0, 10_000)
	flush := func() {
		if _, err := s.Append(ctx, 1, batch); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := range syncs {
		integ := i % 40
		s1, s2 := systems[integ%6], systems[(integ+1+integ/6)%6]
		outcome := "synced"
		if i%17 == 0 {
			outcome = "failed"
		}
		status := "active"
		if integ%7 == 0 {
			status = "inactive"
		}
		batch = append(batch, usage.Event{Kind: usage.KindSync, ID: fmt.Sprintf("s%08d", i),
			Time:        start.Add(time.Duration(i) * (span / time.Duration(syncs))).Truncate(time.Millisecond),
			Integration: fmt.Sprintf("int-%02d", integ), System1: s1, System2: s2,
			Project1: fmt.Sprintf("P%d", i%50), Project2: fmt.Sprintf("Q%d", (i/50)%50), EndSystem: s2,
			EntityType: types[i%len(types)], EntityID: strconv.Itoa(i), IntegrationStatus: status,
			IntegrationUpdatedAt: start, Outcome: outcome})
		if len(batch) == cap(batch) {
			flush()
		}
	}
	for i := range seen {
		p := i % 60_000
		e := usage.Event{Kind: usage.KindUserSeen, ID: fmt.Sprintf("o%08d", i),
			Time:   start.Add(time.Duration(i) * (span / time.Duration(seen))).Truncate(time.Millisecond),
			System: systems[(i/60_000)%6], Interaction: interactions[i%5], ServiceAccount: p%500 == 0}
		switch p % 4 {
		case 0:
			e.Email, e.Username = fmt.Sprintf("user%d@example.com", p), fmt.Sprintf("user%d", p)
		case 1:
			e.Email = fmt.Sprintf("User%d@Example.com", p)
		case 2:
			e.DisplayName = fmt.Sprintf("User %d", p)
		case 3:
			e.Username = fmt.Sprintf("u%d", p)
		}
		batch = append(batch, e)
		if len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
}

// BenchmarkSummary reads summaries and facets (storetest.SummariesBench) from a
// store of the demo's year at USAGELOG_BENCH_SUMMARY_SCALE (default 4,
// about 1,000,000 events; the bench script uses 42, about 10,000,000),
// built once in the temp directory at the speed of ingest.
func BenchmarkSummary(b *testing.B) {
	s, end := demoStore(b)
	storetest.SummariesBench(b, s, end, "Data Team")
}

// BenchmarkLogsPeriods reads the first logs page of every period, filtered
// and not (storetest.LogsPeriodsBench), from the store of BenchmarkSummary.
func BenchmarkLogsPeriods(b *testing.B) {
	s, end := demoStore(b)
	storetest.LogsPeriodsBench(b, s, end, "Data Team")
}

// demoStore opens the demo store of USAGELOG_BENCH_SUMMARY_SCALE, building
// it the first time, and returns it with the moment its data ends. It is
// opened afresh, so that the first call of each case reads a store just
// opened.
func demoStore(b *testing.B) (*sqlite.Store, time.Time) {
	scale := 4.0
	if v := os.Getenv("USAGELOG_BENCH_SUMMARY_SCALE"); v != "" {
		var err error
		if scale, err = strconv.ParseFloat(v, 64); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	end := time.Date(2026, 11, 1, 10, 7, 0, 0, time.UTC)
	path := filepath.Join(os.TempDir(), fmt.Sprintf("usagelog-bench-summary-%g.db", scale))
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	if have, err := s.Count(ctx, 1, usage.KindAPIRequest); err != nil {
		b.Fatal(err)
	} else if have == 0 {
		start := time.Now()
		n, err := demo.Generate(ctx, demo.Config{Seed: 1, End: end, Scale: scale}, func(ctx context.Context, batch []usage.Event) error {
			_, err := s.Append(ctx, 1, batch)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("built %s: %d demo events in %s, %.0f events/s", path, n, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds())
	}
	s.Close()
	if s, err = sqlite.Open(ctx, sqlite.Config{Path: path}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, end
}

// BenchmarkPurge builds a store of USAGELOG_BENCH_PURGE_EVENTS calls
// (default 1,000,000; the bench script: 10,000,000) spread over 100 days,
// then removes the oldest tenth as the janitor does while a client keeps
// ingesting batches of 500: the pass's time, and the p99 latency of those
// batches during the pass against the same client's before it.
func BenchmarkPurge(b *testing.B) {
	n := storetest.EnvInt(b, "USAGELOG_BENCH_PURGE_EVENTS", 1_000_000)
	ctx := context.Background()
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	start := end.AddDate(0, 0, -100)
	for range b.N {
		b.StopTimer()
		s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "purge.db")})
		if err != nil {
			b.Fatal(err)
		}
		step := end.Sub(start) / time.Duration(n)
		tmpl := storetest.Fixture(2000)
		for i := 0; i < n; i += len(tmpl) {
			batch := tmpl[:min(len(tmpl), n-i)]
			for j := range batch {
				batch[j].ID = fmt.Sprintf("e%09d", i+j)
				batch[j].Time = start.Add(time.Duration(i+j) * step)
			}
			if _, err := s.Append(ctx, 1, batch); err != nil {
				b.Fatal(err)
			}
		}
		storetest.PurgeUnderIngest(b, s, end, func() (int64, error) { return s.PurgeEvents(ctx, 1, start.AddDate(0, 0, 10)) })
		s.Close()
	}
}

// BenchmarkReclassify classifies the demo store's calls (see demoStore)
// again by rules that change nearly every call's system and the usage type
// of most, then back by the defaults: an op is the two runs, and run/s
// and calls/s are of one.
func BenchmarkReclassify(b *testing.B) {
	s, _ := demoStore(b)
	storetest.BenchReclassify(b, s)
}

// BenchmarkAlerts measures a round of 1,000 alert rules
// (storetest.AlertsBench) on the store of BenchmarkSummary, which keeps
// the rules too.
func BenchmarkAlerts(b *testing.B) {
	s, end := demoStore(b)
	storetest.AlertsBench(b, s, s, end, "Data Team")
}

// BenchmarkErase erases one member's 10,000 calls from the demo store of
// BenchmarkSummary (USAGELOG_BENCH_SUMMARY_SCALE; the bench script: 42,
// about 10,000,000 events): before each erasure, 10,000 of the store's
// calls spread over its year are stored again under new ids as a new
// member's, and merged. Metrics: erase-s, the erasure's time (it scans
// every row of both tables once), and rows/s, the rows it scanned a
// second.
func BenchmarkErase(b *testing.B) {
	s, _ := demoStore(b)
	ctx := context.Background()
	total, err := s.Count(ctx, 1, usage.KindAPIRequest)
	if err != nil {
		b.Fatal(err)
	}
	const theirs = 10_000
	every := max(total/theirs, 1)
	var calls []usage.Event
	var i int64
	for e, err := range s.ScanEvents(ctx, 1, usage.KindAPIRequest, time.Time{}, time.Time{}) {
		if err != nil {
			b.Fatal(err)
		}
		if i%every == 0 && len(calls) < theirs {
			calls = append(calls, *e)
		}
		i++
	}
	var secs, rows float64
	b.ResetTimer()
	for n := range b.N {
		b.StopTimer()
		member := fmt.Sprintf("m-erase-%d", n)
		for j := range calls {
			calls[j].ID, calls[j].MemberID = fmt.Sprintf("erase-%d-%05d", n, j), member
		}
		for chunk := range slices.Chunk(calls, 2000) {
			if _, err := s.Append(ctx, 1, chunk); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := s.Merge(ctx); err != nil {
			b.Fatal(err)
		}
		var scanned int64
		b.StartTimer()
		start := time.Now()
		res, err := s.Erase(ctx, 1, "er_bench_"+member, usage.ErasureMatch{Field: usage.EraseMemberID, Value: member}, false,
			func(done, _ int64) { scanned = done })
		took := time.Since(start)
		b.StopTimer()
		if err != nil || res.Removed[usage.KindAPIRequest] != int64(len(calls)) {
			b.Fatalf("erased %v, %v; want %d calls", res.Removed, err, len(calls))
		}
		secs += took.Seconds()
		rows += float64(scanned)
	}
	b.ReportMetric(secs/float64(b.N), "erase-s")
	b.ReportMetric(rows/secs, "rows/s")
	b.ReportMetric(0, "ns/op")
}
