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

func TestEventStoreConformance(t *testing.T) {
	storetest.EventStore(t, func(t *testing.T) usage.EventStore { return sqlitetest.Open(t) })
	// Counts come from the rollups where they can: with every batch
	// folded into them, not only from the tail.
	t.Run("rollup-batch=1", func(t *testing.T) {
		storetest.EventStore(t, func(t *testing.T) usage.EventStore { return sqlitetest.OpenConfig(t, sqlite.Config{RollupBatch: 1}) })
	})
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
	// Events go into the rollups after every batch, after some of them
	// (the rest read from the tail), and never in the test.
	for _, batch := range []int{1, 2500, 0} {
		t.Run(fmt.Sprintf("rollup-batch=%d", batch), func(t *testing.T) {
			storetest.Summaries(t, func(t *testing.T) storetest.SummaryStore {
				return sqlitetest.OpenConfig(t, sqlite.Config{RollupBatch: batch})
			})
		})
	}
}

// TestRollupTail: summaries count the events not in the rollups yet as
// every reader of the file sees them, after folds by another store of the
// file, of a tail partly appended by another, and after a purge deleted the tail's last events and a new batch
// got their rowids again.
func TestRollupTail(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usagelog.db")
	writer := sqlitetest.OpenConfig(t, sqlite.Config{Path: path, RollupBatch: 1500})
	reader := sqlitetest.OpenConfig(t, sqlite.Config{Path: path})
	events := storetest.RandomCalls(11, 4000, storetest.SummaryNow)
	// Recent events first, then older ones: the older hold the largest
	// rowids when the purge deletes them.
	slices.SortFunc(events, func(a, b usage.Event) int { return b.Time.Compare(a.Time) })
	windows := []string{"period=90d", "from=2026-07-01"}
	var stored []usage.Event
	// The third batch comes from the other store: the writer's next fold
	// reads the tail back from the file.
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
	storetest.CompareSummaries(t, writer, 1, stored, windows, "UTC")
}

// TestRollupsOfEventsStoredBefore opens a store whose events were stored
// before rollups existed: the migration that creates them rolls up those
// events, in several pages.
func TestRollupsOfEventsStoredBefore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usagelog.db")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
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

// TestRollupTailMigration opens a store of the release before the rollup
// tail, every event in its rollups: migration 014 leaves the tail empty,
// and summaries stay right as more events come.
func TestRollupTailMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usagelog.db")
	s := sqlitetest.OpenConfig(t, sqlite.Config{Path: path})
	events := storetest.RandomCalls(5, 3000, storetest.SummaryNow)
	if _, err := s.Append(ctx, 1, events[:2000]); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.ForgetRollupTail(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = sqlitetest.OpenConfig(t, sqlite.Config{Path: path, RollupBatch: 500})
	windows := []string{"period=90d", "from=2026-07-01"}
	storetest.CompareSummaries(t, s, 1, events[:2000], windows, "UTC")
	if _, err := s.Append(ctx, 1, events[2000:2300]); err != nil {
		t.Fatal(err)
	}
	storetest.CompareSummaries(t, s, 1, events[:2300], windows, "UTC")
	if _, err := s.Append(ctx, 1, events[2300:]); err != nil {
		t.Fatal(err)
	}
	storetest.CompareSummaries(t, s, 1, events, windows, "UTC")
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
