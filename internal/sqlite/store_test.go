package sqlite_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/alerts"
	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// mergeStates open stores whose events are merged in the background (as
// served), wait in arrivals, are merged after every append, or partly: a
// step of 700 events after each append. Every one answers the same.
var mergeStates = []struct {
	name string
	open func(t *testing.T) *sqlitetest.Merging
}{
	{"background", func(t *testing.T) *sqlitetest.Merging {
		return &sqlitetest.Merging{Store: sqlitetest.Open(t), Steps: -1}
	}},
	{"waiting", func(t *testing.T) *sqlitetest.Merging {
		return &sqlitetest.Merging{Store: sqlitetest.OpenConfig(t, sqlite.Config{ManualMerge: true}), Steps: -1}
	}},
	{"merged", func(t *testing.T) *sqlitetest.Merging {
		return &sqlitetest.Merging{Store: sqlitetest.OpenConfig(t, sqlite.Config{ManualMerge: true})}
	}},
	{"partly-merged", func(t *testing.T) *sqlitetest.Merging {
		return &sqlitetest.Merging{Store: sqlitetest.OpenConfig(t, sqlite.Config{ManualMerge: true, MergeStep: 700}), Steps: 1}
	}},
}

func TestEventStoreConformance(t *testing.T) {
	for _, m := range mergeStates {
		t.Run(m.name, func(t *testing.T) {
			storetest.EventStore(t, func(t *testing.T) usage.EventStore { return m.open(t) })
		})
	}
}

func TestMetaStoreConformance(t *testing.T) {
	storetest.MetaStore(t, func(t *testing.T) usage.MetaStore { return sqlitetest.Open(t) })
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usagelog.db")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, 1, storetest.Fixture(10)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	n, err := s.Count(ctx, 1, usage.KindAPIRequest)
	if err != nil || n != 10 {
		t.Errorf("after reopen count = %d, %v; want 10", n, err)
	}
}

// TestReportsReadOnlyWhatTheyDeclare: a report written from a scan of only
// its declared fields equals the report written from whole events.
func TestReportsReadOnlyWhatTheyDeclare(t *testing.T) {
	ctx := context.Background()
	s := sqlitetest.Open(t)
	if _, err := s.Append(ctx, 1, storetest.Fixture(500)); err != nil {
		t.Fatal(err)
	}
	for _, d := range export.LogReports {
		var all, projected bytes.Buffer
		if _, err := export.Write(ctx, d, s.ScanLogs(ctx, 1, usage.LogFilter{}), time.UTC, export.NewCSV(&all), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := export.Write(ctx, d, s.ScanLogs(ctx, 1, usage.LogFilter{}, d.Reads...), time.UTC, export.NewCSV(&projected), nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(all.Bytes(), projected.Bytes()) || all.Len() < 10_000 {
			t.Errorf("%s: reading only %v changes the report", d.Name, d.Reads)
		}
	}
}

func TestSummariesConformance(t *testing.T) {
	for _, m := range mergeStates {
		t.Run(m.name, func(t *testing.T) {
			storetest.Summaries(t, func(t *testing.T) storetest.SummaryStore { return m.open(t) })
		})
	}
}

// TestArrivalsAsEveryReaderSeesThem: summaries count the arrivals as every
// reader of the file sees them, after merges by another store of the
// file, of arrivals partly appended by another, and after a purge
// deleted some arrivals and some merged events.
func TestArrivalsAsEveryReaderSeesThem(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usagelog.db")
	writer := sqlitetest.OpenConfig(t, sqlite.Config{Path: path, ManualMerge: true, MergeStep: 600})
	reader := sqlitetest.OpenConfig(t, sqlite.Config{Path: path, ManualMerge: true})
	events := storetest.RandomCalls(11, 4000, storetest.SummaryNow)
	// Recent events first, then older ones: the purge deletes arrivals.
	slices.SortFunc(events, func(a, b usage.Event) int { return b.Time.Compare(a.Time) })
	windows := []string{"period=90d", "from=2026-07-01"}
	var stored []usage.Event
	// The third batch comes from the other store; the writer merges a
	// step after each batch.
	for i, n := range []int{1000, 400, 1200, 900} {
		by := writer
		if i == 2 {
			by = reader
		}
		if _, err := by.Append(ctx, 1, events[:n]); err != nil {
			t.Fatal(err)
		}
		stored, events = append(stored, events[:n]...), events[n:]
		storetest.CompareSummaries(t, reader, 1, stored, windows, "UTC")
		if _, err := writer.MergeStep(ctx); err != nil {
			t.Fatal(err)
		}
		storetest.CompareSummaries(t, reader, 1, stored, windows, "UTC")
	}
	if n, err := writer.MergeStatus(ctx); err != nil || n == 0 {
		t.Fatalf("%d arrivals waiting (%v): the purge must delete some", n, err)
	}
	cutoff := stored[len(stored)-300].Time.Truncate(24 * time.Hour)
	if _, err := writer.PurgeEvents(ctx, 1, cutoff); err != nil {
		t.Fatal(err)
	}
	stored = slices.DeleteFunc(stored, func(e usage.Event) bool { return e.Time.Before(cutoff) })
	storetest.CompareSummaries(t, reader, 1, stored, windows, "UTC")
	if _, err := writer.Append(ctx, 1, events); err != nil {
		t.Fatal(err)
	}
	stored = append(stored, events...)
	storetest.CompareSummaries(t, reader, 1, stored, windows, "UTC")
	if _, err := writer.Merge(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.CompareSummaries(t, reader, 1, stored, windows, "UTC")
	storetest.CompareSummaries(t, writer, 1, stored, windows, "UTC")
}

// TestRollupsOfEventsStoredBefore opens a store whose events were stored
// before rollups existed: the migration that creates them rolls up those
// events, in several pages.
func TestRollupsOfEventsStoredBefore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usagelog.db")
	// Merged by the test, so that no merge writes the rollups while it
	// drops them.
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path, ManualMerge: true})
	if err != nil {
		t.Fatal(err)
	}
	events := storetest.RandomCalls(3, 120_000, storetest.SummaryNow)
	if _, err := s.Append(ctx, 1, events); err != nil {
		t.Fatal(err)
	}
	syncs := storetest.ReportsFixture()
	if _, err := s.Append(ctx, 1, syncs); err != nil {
		t.Fatal(err)
	}
	// Re-sent sync events change nothing.
	if _, err := s.Append(ctx, 1, syncs[:len(syncs)/2]); err != nil {
		t.Fatal(err)
	}
	now := storetest.ReportsNow
	groups := func() ([]usage.SyncGroup, map[string]string) {
		g, err := s.SyncGroups(ctx, 1, now.AddDate(-1, 0, 0), now.AddDate(0, -6, 0), now)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(g, func(a, b usage.SyncGroup) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		st, err := s.IntegrationStatus(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		return g, st
	}
	wantGroups, wantStatus := groups()
	if len(wantGroups) == 0 || len(wantStatus) == 0 {
		t.Fatalf("no sync groups (%d) or statuses (%d) in the reports fixture", len(wantGroups), len(wantStatus))
	}
	if _, err := s.Merge(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.ForgetRollups(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CompareSummaries(t, s, 1, events, []string{"period=7d", "period=90d", "from=2026-10-30T10:07:13Z"}, "UTC", "Asia/Kathmandu")
	if g, st := groups(); !reflect.DeepEqual(g, wantGroups) || !reflect.DeepEqual(st, wantStatus) {
		t.Errorf("sync rollups rebuilt:\n got %v %v\nwant %v %v", g, st, wantGroups, wantStatus)
	}
}

// TestArrivalsMigration opens a store made by the release before
// arrivals (commit c94af45: 4,031 events of every kind in random order,
// in batches of 700, with events that its rollups did not hold yet):
// migration 19 adds those to the rollups, and the store answers as one
// that this release filled with the same events, before and after merges
// of what comes next.
func TestArrivalsMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usagelog.db")
	gunzip(t, "testdata/store-c94af45.db.gz", path)
	old := sqlitetest.OpenConfig(t, sqlite.Config{Path: path, ManualMerge: true})
	events := shuffledEvents(4000)
	fresh := sqlitetest.OpenConfig(t, sqlite.Config{ManualMerge: true})
	appendAll(t, fresh, events, 700)
	if _, err := fresh.Merge(ctx); err != nil {
		t.Fatal(err)
	}
	compareContents(t, readContents(t, old), readContents(t, fresh))
	var calls []usage.Event
	for _, e := range events {
		if e.Kind == usage.KindAPIRequest {
			calls = append(calls, e)
		}
	}
	windows := []string{"period=90d", "from=2026-01-01"}
	storetest.CompareSummaries(t, old, 1, calls, windows, "UTC", "Asia/Kathmandu")
	more := storetest.RandomCalls(8, 2000, time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC))
	if res := appendAll(t, old, append(more, events[:100]...), 500); res.Inserted != 2000 || res.Duplicates != 100 {
		t.Fatalf("appended to the migrated store: %+v; want 2000 inserted, 100 duplicates", res)
	}
	calls = append(calls, more...)
	storetest.CompareSummaries(t, old, 1, calls, windows, "UTC")
	if _, err := old.Merge(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.CompareSummaries(t, old, 1, calls, windows, "UTC")
}

// TestArrivalsFileMigration opens a store made by the release before the
// arrivals file (commit 2d2898c: 4,031 events in random order appended in
// batches of 700, two merge steps of 1,000, the merged arrivals left in
// the table): migration 23 moves the 2,031 waiting ones into the arrivals
// file, and the store answers as one that this release filled with the
// same events; every event sent again is a duplicate, new ones go in above
// every seq the old store gave, and all of them merge.
func TestArrivalsFileMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usagelog.db")
	gunzip(t, "testdata/store-2d2898c.db.gz", path)
	old := sqlitetest.OpenConfig(t, sqlite.Config{Path: path, ManualMerge: true})
	events := shuffledEvents(4000)
	fresh := sqlitetest.OpenConfig(t, sqlite.Config{ManualMerge: true})
	appendAll(t, fresh, events, 700)
	wanted := readContents(t, fresh)
	compareContents(t, readContents(t, old), wanted)
	if n, err := old.MergeStatus(ctx); err != nil || n != 2031 {
		t.Errorf("%d arrivals wait after the migration (%v), want 2031", n, err)
	}
	if n, err := sqlite.StoredArrivals(ctx, old, "1"); err != nil || n != 2031 {
		t.Errorf("the arrivals file holds %d (%v), want the 2031 waiting", n, err)
	}
	if res := appendAll(t, old, events, 1000); res.Inserted != 0 || res.Duplicates != len(events) {
		t.Errorf("every event again: %+v, want all duplicates", res)
	}
	more := storetest.RandomCalls(9, 500, time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC))
	if res := appendAll(t, old, more, 500); res.Inserted != 500 {
		t.Fatalf("new events: %+v, want 500 inserted", res)
	}
	if n, err := sqlite.StoredArrivals(ctx, old, "seq <= 4031"); err != nil || n != 2031 {
		t.Errorf("%d arrivals at or below the old store's last seq (%v), want the 2031 moved", n, err)
	}
	appendAll(t, fresh, more, 500)
	if _, err := old.Merge(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := sqlite.StoredArrivals(ctx, old, "1"); err != nil || n != 0 {
		t.Errorf("the arrivals file holds %d once all merged (%v), want 0", n, err)
	}
	compareContents(t, readContents(t, old), readContents(t, fresh))
}

// TestArrivalsMatchEvents: arrivals has every column of events, alike, and
// its seq: a migration that adds a column to one adds it to the other.
func TestArrivalsMatchEvents(t *testing.T) {
	s := sqlitetest.Open(t)
	if differ, err := sqlite.ArrivalColumns(context.Background(), s); err != nil || len(differ) > 0 {
		t.Errorf("columns of arrivals and events that differ: %v (%v)", differ, err)
	}
}

func TestAlertsConformance(t *testing.T) {
	// One store keeps the events and the rules, as serve's embedded
	// default does.
	s := sqlitetest.Open(t)
	storetest.Alerts(t, func(*testing.T) storetest.SummaryStore { return s }, func(*testing.T) alerts.Store { return s })
}

func TestAlertStoreConformance(t *testing.T) {
	storetest.AlertStore(t, func(t *testing.T) alerts.Store { return sqlitetest.Open(t) })
}

// TestErasureConformance runs the erasure suite in every merge state: in
// full where arrivals and merged events are both there (partly-merged),
// for one field of API calls and one of the other kinds in the rest.
func TestErasureConformance(t *testing.T) {
	for _, m := range mergeStates {
		t.Run(m.name, func(t *testing.T) {
			var fields []usage.ErasureField
			if m.name != "partly-merged" {
				fields = []usage.ErasureField{usage.EraseMemberID, usage.EraseUserEmail}
			}
			storetest.Erasure(t, func(t *testing.T) storetest.ErasingStore { return m.open(t) }, fields...)
		})
	}
}

func TestErasureStoreConformance(t *testing.T) {
	storetest.ErasureStore(t, func(t *testing.T) storetest.ErasureMeta { return sqlitetest.Open(t) })
}
