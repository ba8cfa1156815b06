package sqlite_test

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// BenchmarkWritePath times the write path as ingest meets it: into a store
// that holds USAGELOG_BENCH_WRITE_BASE api_request events of a year
// (default 1,000,000), stored in time order and merged,
// USAGELOG_BENCH_WRITE_EVENTS more of the same year (default as many)
// arrive through Append in batches of 10,000, in time order or in random
// time order, while the store merges in the background. Metrics:
//
//   - ack-events/s: the events acknowledged a second;
//   - p999-append-ms and max-append-ms: the latency of an Append, merges
//     running beside it;
//   - merge-after-s: from the last acknowledgement until the store's
//     background merge has merged every arrival;
//   - merging-max-append-ms: the longest of the appends of 100 events that
//     another workspace's client sends every 100 ms meanwhile;
//   - waiting-first-page-ms, waiting-overview-ms: the first logs page and
//     the 90-day summary right after the last acknowledgement, arrivals
//     waiting, each the second of two calls (the first call of a summary
//     reads every waiting call into the process's memory, later ones only
//     what is new: waiting-overview-first-ms); first-page-ms, overview-ms:
//     the same once merged;
//   - export-rows/s: the api-usage CSV of every event, once merged;
//   - acked-heap-mb: the Go heap in use at the last acknowledgement, after
//     a collection (the waiting arrivals' ids are held in memory);
//   - wal-max-mb: the most the write-ahead log held;
//   - given-back-after-s: from the last acknowledgement until the merge
//     has given the free pages of the arrivals it merged back to the file
//     system (fewer than a tenth of the file's pages free), after a minute
//     with nothing to merge; given-back-export-rows/s: the export again
//     after that;
//   - bytes/event: the file's size (with its write-ahead log) over the
//     events it holds (the other client's too).
//
// The base store is built once and kept in $TMPDIR for later runs.
func BenchmarkWritePath(b *testing.B) {
	base := storetest.EnvInt(b, "USAGELOG_BENCH_WRITE_BASE", 1_000_000)
	n := storetest.EnvInt(b, "USAGELOG_BENCH_WRITE_EVENTS", base)
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	basePath := writeBase(b, base, end)
	for _, order := range []string{"time", "random"} {
		b.Run("order="+order, func(b *testing.B) {
			for range b.N {
				writePath(b, basePath, base, n, order == "random", end)
			}
		})
	}
}

// BenchmarkArrivalIndexes is what each index of the arrivals costs an
// append: USAGELOG_BENCH_WRITE_BASE events (default 1,000,000) appended
// into a store of as many, in batches of 10,000, in time order and in
// random time order, with no merge while they come (ManualMerge), with the
// arrivals' indexes the variant names: time (by workspace, kind and time,
// as the store has them); id+time (and a unique index of ids, which
// found duplicates before waiting_ids.go); none; or a time index in days
// (day: by workspace, kind and the day of time_ms) in place of the time
// index, with and without the id index. Without the time index a store is
// not correct (it serves reads): it measures what a write path whose
// arrivals take no event at a random place could reach, and what an index
// that takes them at one of few places (a day's end) costs.
func BenchmarkArrivalIndexes(b *testing.B) {
	base := storetest.EnvInt(b, "USAGELOG_BENCH_WRITE_BASE", 1_000_000)
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	basePath := writeBase(b, base, end)
	const (
		dropTime = "DROP INDEX arrivals_workspace_kind_time"
		id       = "CREATE UNIQUE INDEX arrivals_file.arrivals_workspace_id ON arrivals (workspace_id, id)"
		day      = "CREATE INDEX arrivals_file.arrivals_day ON arrivals (workspace_id, kind, time_ms / 86400000)"
	)
	for _, v := range []struct {
		name  string
		alter []string
	}{
		{"time", nil}, {"id+time", []string{id}}, {"none", []string{dropTime}},
		{"id+day", []string{dropTime, id, day}}, {"day", []string{dropTime, day}},
	} {
		for _, order := range []string{"time", "random"} {
			b.Run("indexes="+v.name+"/order="+order, func(b *testing.B) {
				for range b.N {
					appendsAlone(b, basePath, base, v.alter, order == "random", end)
				}
			})
		}
	}
}

func appendsAlone(b *testing.B, basePath string, n int, alter []string, random bool, end time.Time) {
	s, _ := openCopy(b, basePath, sqlite.Config{ManualMerge: true}, alter...)
	defer s.Close()
	start := time.Now()
	appendArrivals(b, s, n, random, end)
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "ack-events/s")
}

// appendArrivals appends n new events of the base's year, between the
// base's, in batches of 10,000, in time order or in random time order,
// and returns each Append's latency.
func appendArrivals(b *testing.B, s *sqlite.Store, n int, random bool, end time.Time) []time.Duration {
	idx := storetest.ArrivalOrder(n, random)
	const batch = 10_000
	events := make([]usage.Event, 0, batch)
	var lat []time.Duration
	for i := 0; i < n; i += batch {
		events = events[:0]
		for _, j := range idx[i:min(i+batch, n)] {
			e := storetest.ArrivalEvent(int(j), n, end)
			e.ID, e.Time = "n"+e.ID, e.Time.Add(time.Millisecond)
			events = append(events, e)
		}
		t := time.Now()
		if _, err := s.Append(context.Background(), 1, events); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	return lat
}

// writeBase returns the path of a merged store of base events in time
// order, building it when $TMPDIR has none.
func writeBase(b *testing.B, base int, end time.Time) string {
	path := filepath.Join(os.TempDir(), "usagelog-bench-write-"+strconv.Itoa(base)+".db")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	ctx := context.Background()
	tmp := path + ".building"
	os.Remove(tmp)
	os.Remove(tmp + "-arrivals")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: tmp, ManualMerge: true})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 10_000
	events := make([]usage.Event, 0, batch)
	for i := 0; i < base; i += batch {
		events = events[:0]
		for j := i; j < min(i+batch, base); j++ {
			events = append(events, storetest.ArrivalEvent(j, base, end))
		}
		if _, err := s.Append(ctx, 1, events); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Merge(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	// Everything is merged: a store opened on the copy starts an arrivals
	// file of its own.
	for _, f := range []string{"-arrivals", "-arrivals-wal", "-arrivals-shm"} {
		os.Remove(tmp + f)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

func writePath(b *testing.B, basePath string, base, n int, random bool, end time.Time) {
	ctx := context.Background()
	s, path := openCopy(b, basePath, sqlite.Config{})
	defer s.Close()
	start := time.Now()
	lat := appendArrivals(b, s, n, random, end)
	acked := time.Now()
	b.ReportMetric(float64(n)/acked.Sub(start).Seconds(), "ack-events/s")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*999/1000].Microseconds())/1000, "p999-append-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-append-ms")
	// What the process holds (the waiting arrivals' ids among it), before
	// a summary reads the waiting calls into memory.
	runtime.GC()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	b.ReportMetric(float64(mem.HeapAlloc)/(1<<20), "acked-heap-mb")

	if err := s.Ping(ctx); err != nil { // a read connection, as a server has
		b.Fatal(err)
	}
	_, first := readTimes(b, s, end)
	page, overview := readTimes(b, s, end)
	waiting, err := s.MergeStatus(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(waiting), "waiting-events")
	b.ReportMetric(page, "waiting-first-page-ms")
	b.ReportMetric(overview, "waiting-overview-ms")
	b.ReportMetric(first, "waiting-overview-first-ms")

	// The store's own background merge, as a server's, while another
	// workspace's client sends 100 events every 100 ms.
	probe := make(chan []time.Duration)
	stopProbe := make(chan struct{})
	go func() { probe <- probeAppends(ctx, b, s, stopProbe, end) }()
	err = waitMerged(ctx, s, time.Hour)
	close(stopProbe)
	probeLat := <-probe
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(acked).Seconds(), "merge-after-s")
	if len(probeLat) > 0 {
		slices.Sort(probeLat)
		b.ReportMetric(float64(probeLat[len(probeLat)-1].Microseconds())/1000, "merging-max-append-ms")
	}
	page, overview = readTimes(b, s, end)
	b.ReportMetric(page, "first-page-ms")
	b.ReportMetric(overview, "overview-ms")
	// The merged arrivals leave the arrivals file once no reader can need
	// them (merge.go); until then a read of the waiting ones in time order
	// walks past them.
	for {
		n, err := sqlite.StoredArrivals(ctx, s, "workspace_id = 1")
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Since(acked) > time.Hour {
			b.Fatalf("%d merged arrivals still there an hour after the last acknowledgement", n)
		}
		time.Sleep(20 * time.Millisecond) // polling the store, as waitMerged does
	}
	b.ReportMetric(time.Since(acked).Seconds(), "dropped-after-s")
	page, _ = readTimes(b, s, end)
	b.ReportMetric(page, "dropped-first-page-ms")
	b.ReportMetric(exportRate(b, s, base+n), "export-rows/s")
	// The log never shrinks (it starts again from its beginning): its size
	// is the most it held.
	if st, err := os.Stat(path + "-wal"); err == nil {
		b.ReportMetric(float64(st.Size())/(1<<20), "wal-max-mb")
	}
	if st, err := os.Stat(path + "-arrivals-wal"); err == nil {
		b.ReportMetric(float64(st.Size())/(1<<20), "arrivals-wal-max-mb")
	}
	// The merge gives the pages of the arrivals it emptied at once back
	// once idle: the file's size is what it is after that.
	if err := waitGivenBack(ctx, s, time.Hour); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(acked).Seconds(), "given-back-after-s")
	b.ReportMetric(exportRate(b, s, base+n), "given-back-export-rows/s")
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	var size int64
	for _, f := range []string{path, path + "-wal", path + "-arrivals", path + "-arrivals-wal"} {
		if st, err := os.Stat(f); err == nil {
			size += st.Size()
		}
	}
	b.ReportMetric(float64(size)/float64(base+n+probeEvents*len(probeLat)), "bytes/event")
}

// probeEvents is how many events each of probeAppends' appends holds.
const probeEvents = 100

// probeAppends appends probeEvents events of workspace 2 every 100 ms until
// stop closes, and returns each append's latency.
func probeAppends(ctx context.Context, b *testing.B, s *sqlite.Store, stop <-chan struct{}, end time.Time) []time.Duration {
	var lat []time.Duration
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return lat
		case <-tick.C:
		}
		events := make([]usage.Event, probeEvents)
		for j := range events {
			events[j] = storetest.ArrivalEvent(i*probeEvents+j, 1_000_000, end)
			events[j].ID = "probe-" + events[j].ID
		}
		t := time.Now()
		if _, err := s.Append(ctx, 2, events); err != nil {
			b.Error(err)
			return lat
		}
		lat = append(lat, time.Since(t))
	}
}

// waitMerged waits until no arrival waits to be merged, for at most
// limit.
func waitMerged(ctx context.Context, s *sqlite.Store, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		done, err := s.Merged(ctx)
		if err != nil || done {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("arrivals still wait after %v", limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitGivenBack waits until fewer than a tenth of the file's pages are
// free, for at most limit.
func waitGivenBack(ctx context.Context, s *sqlite.Store, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		free, pages, err := sqlite.FreePages(ctx, s)
		if err != nil || free*10 < pages {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d pages still free after %v", free, pages, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readTimes returns the time of the first logs page and of the 90-day
// summary, in milliseconds.
func readTimes(b *testing.B, s *sqlite.Store, now time.Time) (page, overview float64) {
	ctx := context.Background()
	start := time.Now()
	if p, err := s.Logs(ctx, 1, usage.LogQuery{Limit: 100}); err != nil || len(p) != 100 {
		b.Fatalf("first page: %d rows, %v", len(p), err)
	}
	page = float64(time.Since(start).Microseconds()) / 1000
	svc := &summary.Service{Rollups: s, Events: s}
	req, err := summary.ParseRequest(url.Values{"period": {"90d"}}, now, time.UTC)
	if err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	sum, err := svc.Summary(ctx, 1, req)
	if err != nil || sum.Total == 0 {
		b.Fatalf("overview: %v, %v", sum, err)
	}
	overview = float64(time.Since(start).Microseconds()) / 1000
	return page, overview
}

// openCopy opens a copy of the store at basePath, in b's temporary
// directory, with c (its Path set to the copy's), after running alter on
// the copy; it returns the store and the copy's path.
func openCopy(b *testing.B, basePath string, c sqlite.Config, alter ...string) (*sqlite.Store, string) {
	c.Path = filepath.Join(b.TempDir(), "u.db")
	copyFile(b, basePath, c.Path)
	if len(alter) > 0 {
		// The copy's schema is this build's before alter changes it.
		s, err := sqlite.Open(context.Background(), sqlite.Config{Path: c.Path, ManualMerge: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		if err := sqlite.AlterFile(c.Path, alter...); err != nil {
			b.Fatal(err)
		}
	}
	s, err := sqlite.Open(context.Background(), c)
	if err != nil {
		b.Fatal(err)
	}
	return s, c.Path
}

func copyFile(b *testing.B, from, to string) {
	in, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(fmt.Errorf("copy the base store: %w", err))
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMergeSteps is what the size of a merge step does to the merge
// of arrivals out of time order, with nothing else writing: into a store of
// USAGELOG_BENCH_WRITE_BASE events (default 1,000,000),
// USAGELOG_BENCH_WRITE_EVENTS more (default as many) are appended in random
// time order with no merge (ManualMerge), then merged (Store.Merge) in
// steps of each size of USAGELOG_BENCH_MERGE_STEPS (default 5000, 40000,
// 200000), with the write connection's page cache of 64 MiB, as the store
// opens it, and of 1 GiB (cache=1g). Metrics: merged-events/s, wal-max-mb.
func BenchmarkMergeSteps(b *testing.B) {
	base := storetest.EnvInt(b, "USAGELOG_BENCH_WRITE_BASE", 1_000_000)
	n := storetest.EnvInt(b, "USAGELOG_BENCH_WRITE_EVENTS", base)
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	basePath := writeBase(b, base, end)
	steps := strings.Fields(os.Getenv("USAGELOG_BENCH_MERGE_STEPS"))
	if len(steps) == 0 {
		steps = []string{"5000", "40000", "200000"}
	}
	for _, cache := range []string{"64m", "1g"} {
		for _, step := range steps {
			size, err := strconv.Atoi(step)
			if err != nil || size <= 0 {
				b.Fatalf("USAGELOG_BENCH_MERGE_STEPS: %q is not a step size", step)
			}
			b.Run("cache="+cache+"/step="+step, func(b *testing.B) {
				for range b.N {
					mergeSteps(b, basePath, n, size, cache == "1g", end)
				}
			})
		}
	}
}

func mergeSteps(b *testing.B, basePath string, n, step int, bigCache bool, end time.Time) {
	ctx := context.Background()
	s, path := openCopy(b, basePath, sqlite.Config{ManualMerge: true, MergeStep: step})
	defer s.Close()
	appendArrivals(b, s, n, true, end)
	if bigCache {
		if err := sqlite.Exec(ctx, s, `PRAGMA cache_size(-1048576)`); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	if got, err := s.Merge(ctx); err != nil || got != int64(n) {
		b.Fatalf("merged %d, %v; want %d", got, err, n)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "merged-events/s")
	if st, err := os.Stat(path + "-wal"); err == nil {
		b.ReportMetric(float64(st.Size())/(1<<20), "wal-max-mb")
	}
}
