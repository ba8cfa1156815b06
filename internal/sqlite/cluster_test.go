package sqlite_test

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// contents is what a store answers of workspace 1: what a rewrite in
// time order must leave as it was.
type contents struct {
	Logs    []usage.Event
	Page    []usage.Event
	Count   int64
	Kinds   map[usage.Kind][]usage.Event
	Seen    []usage.SeenGroup
	Sync    []usage.SyncGroup
	Summary *summary.Rollup
}

// compareContents reports each part of got that differs from want.
func compareContents(t *testing.T, got, want contents) {
	t.Helper()
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range g.NumField() {
		if !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
			t.Errorf("%s differs after the rewrite", g.Type().Field(i).Name)
		}
	}
}

func readContents(t *testing.T, s *sqlite.Store) contents {
	t.Helper()
	ctx := context.Background()
	var c contents
	var err error
	for e, err := range s.ScanLogs(ctx, 1, usage.LogFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		c.Logs = append(c.Logs, *e)
	}
	if c.Page, err = s.Logs(ctx, 1, usage.LogQuery{LogFilter: usage.LogFilter{Clients: []string{"Data Team"}}, Limit: 50}); err != nil {
		t.Fatal(err)
	}
	if c.Count, err = s.CountLogs(ctx, 1, usage.LogFilter{StatusClasses: []int{4}}); err != nil {
		t.Fatal(err)
	}
	c.Kinds = map[usage.Kind][]usage.Event{}
	for _, k := range usage.Kinds {
		for e, err := range s.ScanEvents(ctx, 1, k, time.Time{}, time.Time{}) {
			if err != nil {
				t.Fatal(err)
			}
			c.Kinds[k] = append(c.Kinds[k], *e)
		}
	}
	year := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if c.Seen, err = s.SeenGroups(ctx, 1, year, year.AddDate(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if c.Sync, err = s.SyncGroups(ctx, 1, year, year.AddDate(0, 6, 0), year.AddDate(1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	// Groups come in no set order.
	slices.SortFunc(c.Sync, func(a, b usage.SyncGroup) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	slices.SortFunc(c.Seen, func(a, b usage.SeenGroup) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	var bounds []int64
	for m := range 13 {
		bounds = append(bounds, year.AddDate(0, m, 0).UnixMilli())
	}
	if c.Summary, err = s.Rollup(ctx, 1, summary.Query{Bounds: bounds}); err != nil {
		t.Fatal(err)
	}
	return c
}

// shuffledEvents are api_request events of a year and the reports'
// events of every kind, in random order.
func shuffledEvents(n int) []usage.Event {
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var ev []usage.Event
	for i := range n {
		ev = append(ev, storetest.ArrivalEvent(i, n, end))
	}
	ev = append(ev, storetest.ReportsFixture()...)
	ev = append(ev, storetest.ActivityFixture()...)
	rand.New(rand.NewPCG(26, 11)).Shuffle(len(ev), func(i, j int) { ev[i], ev[j] = ev[j], ev[i] })
	return ev
}

// appendMerged is appendAll, then a merge of every arrival.
func appendMerged(t *testing.T, s *sqlite.Store, ev []usage.Event, batch int) usage.AppendResult {
	t.Helper()
	res := appendAll(t, s, ev, batch)
	if _, err := s.Merge(context.Background()); err != nil {
		t.Fatal(err)
	}
	return res
}

func appendAll(t *testing.T, s *sqlite.Store, ev []usage.Event, batch int) usage.AppendResult {
	t.Helper()
	var res usage.AppendResult
	for b := range slices.Chunk(ev, batch) {
		r, err := s.Append(context.Background(), 1, b)
		if err != nil {
			t.Fatal(err)
		}
		res.Inserted += r.Inserted
		res.Duplicates += r.Duplicates
	}
	return res
}

// A store filled in random order is due a rewrite; the rewrite puts the
// table in time order and changes nothing it answers, its indexes
// included (duplicates, reports).
func TestCluster(t *testing.T) {
	ctx := context.Background()
	s := sqlitetest.OpenConfig(t, sqlite.Config{ClusterAfter: 1000, ManualMerge: true})
	ev := shuffledEvents(20_000)
	appendMerged(t, s, ev, 1000)
	st, err := s.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Due || st.Disordered < 5000 || st.Events != int64(len(ev)) {
		t.Fatalf("status after a random-order ingest: %+v, want due, thousands disordered, %d events", st, len(ev))
	}
	before := readContents(t, s)
	schema, err := sqlite.Schema(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	var calls int
	var last, total int64
	res, err := s.Cluster(ctx, false, func(d, n int64) { calls, last, total = calls+1, d, n })
	if err != nil || !res.Done || res.Late != 0 {
		t.Fatalf("cluster: %+v, %v", res, err)
	}
	if calls == 0 || total != int64(len(ev)) || last > total {
		t.Errorf("progress: %d calls, last %d of %d", calls, last, total)
	}
	if n, err := sqlite.Descents(ctx, s); err != nil || n != 0 {
		t.Errorf("after the rewrite, %d index entries have a rowid below the one before (%v), want 0", n, err)
	}
	compareContents(t, readContents(t, s), before)
	if got, err := sqlite.Schema(ctx, s); err != nil || !slices.Equal(got, schema) {
		t.Errorf("schema after: %v (%v), want %v", got, err, schema)
	}
	if st, err := s.ClusterStatus(ctx); err != nil || st.Due || st.Disordered != 0 || st.Copying {
		t.Errorf("status after: %+v, %v", st, err)
	}
	if again, err := s.Cluster(ctx, false, nil); err != nil || again.Done {
		t.Errorf("a second rewrite: %+v, %v; want none", again, err)
	}
	// The id index is whole: every event again is a duplicate.
	if res := appendAll(t, s, ev, 5000); res.Inserted != 0 || res.Duplicates != len(ev) {
		t.Errorf("every event again: %+v, want all duplicates", res)
	}
}

// A rewrite that stops carries on where it stopped, in another process;
// events stored and purged meanwhile are neither lost nor brought back.
func TestClusterResumes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usagelog.db")
	cfg := sqlite.Config{Path: path, ClusterAfter: 1000, ManualMerge: true}
	s := sqlitetest.OpenConfig(t, cfg)
	ev := shuffledEvents(120_000) // more than two steps of the copy
	appendMerged(t, s, ev[:100_000], 10_000)

	stop, cancel := context.WithCancel(ctx)
	steps := 0
	_, err := s.Cluster(stop, false, func(done, total int64) {
		if steps++; steps == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cluster stopped after a step: %v", err)
	}
	s.Close()

	s = sqlitetest.OpenConfig(t, cfg)
	if st, err := s.ClusterStatus(ctx); err != nil || !st.Copying || !st.Due {
		t.Fatalf("status after a stop: %+v, %v; want a copy going on", st, err)
	}
	appendMerged(t, s, ev[100_000:], 10_000) // merged during the copy
	want := readContents(t, s)
	if res, err := s.Cluster(ctx, false, nil); err != nil || !res.Done || res.Late != int64(len(ev)-100_000) {
		t.Fatalf("resumed: %+v, %v; want done with the %d events stored during the copy", res, err, len(ev)-100_000)
	}
	if got := readContents(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("after a resumed rewrite: %d calls, want %d", len(got.Logs), len(want.Logs))
	}

	// A purge drops a copy under way: it may hold the events it deletes.
	appendMerged(t, s, shuffledEvents(30_000), 5_000) // duplicates and disorder again
	if err := sqlite.AddDisordered(ctx, s, 200_000); err != nil {
		t.Fatal(err)
	}
	stop, cancel = context.WithCancel(ctx)
	steps = 0
	if _, err := s.Cluster(stop, false, func(int64, int64) {
		if steps++; steps == 2 {
			cancel()
		}
	}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cluster stopped after a step: %v", err)
	}
	cut := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.PurgeEvents(ctx, 1, cut); err != nil {
		t.Fatal(err)
	}
	if st, err := s.ClusterStatus(ctx); err != nil || st.Copying {
		t.Fatalf("status after a purge: %+v, %v; want no copy", st, err)
	}
	want = readContents(t, s)
	if res, err := s.Cluster(ctx, false, nil); err != nil || !res.Done {
		t.Fatalf("cluster after the purge: %+v, %v", res, err)
	}
	got := readContents(t, s)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after the purge and a rewrite: %d calls, want %d", len(got.Logs), len(want.Logs))
	}
	for _, e := range got.Logs {
		if e.Time.Before(cut) {
			t.Fatalf("purged event %s came back", e.ID)
		}
	}
}

// A copy stopped before a migration changed the events table starts over
// with the table as it is, and the arrivals file's table takes the new
// column when the store opens.
func TestClusterAcrossAMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usagelog.db")
	cfg := sqlite.Config{Path: path, ClusterAfter: 1000, ManualMerge: true}
	s := sqlitetest.OpenConfig(t, cfg)
	appendMerged(t, s, shuffledEvents(120_000), 10_000)
	stop, cancel := context.WithCancel(ctx)
	steps := 0
	if _, err := s.Cluster(stop, false, func(int64, int64) {
		if steps++; steps == 2 {
			cancel()
		}
	}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cluster stopped after a step: %v", err)
	}
	if err := sqlite.Exec(ctx, s, `ALTER TABLE events ADD COLUMN region TEXT NOT NULL DEFAULT ''`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = sqlitetest.OpenConfig(t, cfg)
	if differ, err := sqlite.ArrivalColumns(ctx, s); err != nil || len(differ) > 0 {
		t.Errorf("columns of arrivals and events that differ after the migration: %v (%v)", differ, err)
	}
	want := readContents(t, s)
	if res, err := s.Cluster(ctx, false, nil); err != nil || !res.Done {
		t.Fatalf("cluster after the migration: %+v, %v", res, err)
	}
	compareContents(t, readContents(t, s), want)
	if n, err := sqlite.Descents(ctx, s); err != nil || n != 0 {
		t.Errorf("%d descents after the rewrite (%v)", n, err)
	}
}

// Ingest and the background merge go on while a rewrite runs, from other
// goroutines: nothing waits on anything for good, and every event stored
// is there after.
func TestClusterWhileIngesting(t *testing.T) {
	ctx := context.Background()
	s := sqlitetest.OpenConfig(t, sqlite.Config{ClusterAfter: 1000})
	ev := shuffledEvents(150_000)
	appendMerged(t, s, ev[:100_000], 10_000)
	stop, done := make(chan struct{}), make(chan int)
	go func() {
		n := 100_000
		for ; n < len(ev); n += 500 {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			if _, err := s.Append(ctx, 1, ev[n:min(n+500, len(ev))]); err != nil {
				t.Error(err)
				break
			}
		}
		done <- min(n, len(ev))
	}()
	res, err := s.Cluster(ctx, false, nil)
	close(stop)
	stored := <-done
	if err != nil || !res.Done {
		t.Fatalf("cluster: %+v, %v", res, err)
	}
	var n int
	for _, err := range s.ScanLogs(ctx, 1, usage.LogFilter{}, "id") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	want := 0
	for _, e := range ev[:stored] {
		if e.Kind == usage.KindAPIRequest {
			want++
		}
	}
	if n != want {
		t.Errorf("%d calls after the rewrite, %d stored (%d during it, %d of them late)", n, want, stored-100_000, res.Late)
	}
	storetest.CompareSummaries(t, s, 1, callsOf(ev[:stored]), []string{"period=90d", "from=2026-01-01"}, "UTC")
}

func callsOf(ev []usage.Event) []usage.Event {
	var out []usage.Event
	for _, e := range ev {
		if e.Kind == usage.KindAPIRequest {
			out = append(out, e)
		}
	}
	return out
}

// A store made by usagelog before rewrites (commit 46dc1ae: 4,900
// events of every kind ingested in random order) is found out of order
// when migration 015 runs, and the rewrite keeps what it answers.
func TestClusterMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usagelog.db")
	gunzip(t, "testdata/store-46dc1ae.db.gz", path)
	s := sqlitetest.OpenConfig(t, sqlite.Config{Path: path, ClusterAfter: 100})
	st, err := s.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Due || st.Events != 4900 || st.Disordered < 500 {
		t.Fatalf("status of the old store: %+v; want due, 4900 events, hundreds out of order", st)
	}
	before := readContents(t, s)
	if len(before.Logs) != 4000 {
		t.Fatalf("%d calls in the old store, want 4000", len(before.Logs))
	}
	if _, err := s.Cluster(ctx, false, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := sqlite.Descents(ctx, s); err != nil || n != 0 {
		t.Errorf("%d descents after the rewrite (%v)", n, err)
	}
	compareContents(t, readContents(t, s), before)
}

func gunzip(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
