package clickhouse_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/alerts"
	"github.com/usagelog/usagelog/internal/clickhouse"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// server is the test ClickHouse: USAGELOG_TEST_CLICKHOUSE, which
// scripts/test.sh sets after starting it, or the local default. The tests
// fail, never skip, when it does not answer.
func server() string {
	if s := os.Getenv("USAGELOG_TEST_CLICKHOUSE"); s != "" {
		return s
	}
	return "127.0.0.1:9000"
}

var seq atomic.Int64

// open returns a store in a database of its own, dropped after the test.
func open(t testing.TB) *clickhouse.Store {
	t.Helper()
	return openDSN(t, "")
}

// openDSN is open with the DSN's parameters (?scan=driver).
func openDSN(t testing.TB, params string) *clickhouse.Store {
	t.Helper()
	db := fmt.Sprintf("usagelog_test_%d_%d", os.Getpid(), seq.Add(1))
	s, err := clickhouse.Open(context.Background(), "clickhouse://"+server()+"/"+db+params)
	if err != nil {
		t.Fatalf("clickhouse at %s: %v (scripts/test.sh installs and starts it)", server(), err)
	}
	t.Cleanup(func() {
		s.DropDatabase(context.Background())
		s.Close()
	})
	return s
}

// clusterDSN is the test cluster's DSN with {db} for the database:
// USAGELOG_TEST_CLICKHOUSE_CLUSTER, which scripts/test.sh sets after
// scripts/clickhouse-cluster.sh up, or that script's loopback cluster.
func clusterDSN() string {
	if s := os.Getenv("USAGELOG_TEST_CLICKHOUSE_CLUSTER"); s != "" {
		return s
	}
	return "clickhouse://127.0.0.1:9201,127.0.0.1:9202,127.0.0.1:9203,127.0.0.1:9204/{db}?cluster=usagelog"
}

// openCluster returns a store on the test cluster in a database of its
// own, dropped on every node after the test.
func openCluster(t testing.TB) *clickhouse.Store {
	t.Helper()
	db := fmt.Sprintf("usagelog_test_%d_%d", os.Getpid(), seq.Add(1))
	dsn := strings.ReplaceAll(clusterDSN(), "{db}", db)
	s, err := clickhouse.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("clickhouse cluster at %s: %v (scripts/clickhouse-cluster.sh up starts it)", dsn, err)
	}
	t.Cleanup(func() {
		s.DropDatabase(context.Background())
		s.Close()
	})
	return s
}

func TestEventStoreConformance(t *testing.T) {
	storetest.EventStore(t, func(t *testing.T) usage.EventStore { return open(t) })
}

// TestEventStoreConformanceDriverScan runs the suite with scans through
// clickhouse-go (?scan=driver), the way out when the native reader cannot
// talk to a server.
func TestEventStoreConformanceDriverScan(t *testing.T) {
	storetest.EventStore(t, func(t *testing.T) usage.EventStore { return openDSN(t, "?scan=driver") })
}

// TestEventStoreConformanceCluster runs the suite on a cluster of two
// shards of two replicas (scripts/clickhouse-cluster.sh).
func TestEventStoreConformanceCluster(t *testing.T) {
	storetest.EventStore(t, func(t *testing.T) usage.EventStore { return openCluster(t) })
}

func TestErasureConformance(t *testing.T) {
	storetest.Erasure(t, func(t *testing.T) storetest.ErasingStore { return open(t) })
}

// TestErasureConformanceCluster erases on the cluster: the mutations run
// on every shard, the erased ids are read from all of them.
func TestErasureConformanceCluster(t *testing.T) {
	storetest.Erasure(t, func(t *testing.T) storetest.ErasingStore { return openCluster(t) }, usage.EraseMemberID, usage.EraseUserEmail)
}

func TestScanOption(t *testing.T) {
	_, err := clickhouse.Open(context.Background(), "clickhouse://"+server()+"/x?scan=fast")
	if err == nil || !strings.Contains(err.Error(), `scan="fast"`) {
		t.Errorf("scan=fast: err = %v, want one that names it", err)
	}
}

// TestEventStoreConformanceInPieces runs the suite again with scans in
// pieces of a few events, as a big store's scans go: order, bounds and
// re-sent events must not depend on where the pieces meet.
func TestEventStoreConformanceInPieces(t *testing.T) {
	storetest.EventStore(t, func(t *testing.T) usage.EventStore {
		s := open(t)
		clickhouse.SetChunkRows(s, 7)
		return s
	})
}

// TestResentBeforeMerge appends one batch from two writers at once: both
// may find the ids new and insert them, and the reads still count each
// event once (FINAL), before ClickHouse merges the parts.
func TestResentBeforeMerge(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	// Dated in the last minutes, so that the first page is read from the
	// newest window (pageKeys), where FINAL merges the copies too.
	events := storetest.Fixture(500)
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i := range events {
		events[i].Time = now.Add(-time.Duration(i) * time.Second)
	}
	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := s.Append(ctx, 1, events)
			done <- err
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(ctx, 1, events); err != nil {
		t.Fatal(err)
	}
	n, err := s.Count(ctx, 1, usage.KindAPIRequest)
	if err != nil || n != 500 {
		t.Errorf("count = %d, %v; want 500", n, err)
	}
	page, err := s.Logs(ctx, 1, usage.LogQuery{Limit: 1000})
	if err != nil || len(page) != 500 {
		t.Errorf("logs = %d rows, %v; want 500", len(page), err)
	}
	if m, err := s.CountLogs(ctx, 1, usage.LogFilter{}); err != nil || m != 500 {
		t.Errorf("count logs = %d, %v", m, err)
	}
	first, err := s.Logs(ctx, 1, usage.LogQuery{Limit: 51})
	if err != nil || len(first) != 51 {
		t.Fatalf("first page = %d rows, %v; want 51", len(first), err)
	}
	for i, e := range first {
		if e.ID != events[i].ID {
			t.Fatalf("first page row %d is %s, want %s (each event once, newest first)", i, e.ID, events[i].ID)
		}
	}
}

// EstimateLogs counts what CountLogs counts while nothing is re-sent, with
// the same filters.
func TestEstimateLogs(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if _, err := s.Append(ctx, 1, storetest.Fixture(300)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []usage.LogFilter{{}, {Statuses: []int{404}}, {StatusClasses: []int{2}, Clients: []string{"Data Team"}}} {
		want, err := s.CountLogs(ctx, 1, f)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.EstimateLogs(ctx, 1, f); err != nil || got != want || want == 0 {
			t.Errorf("filter %+v: estimate %d, %v; count %d", f, got, err, want)
		}
	}
}

func TestSummariesConformance(t *testing.T) {
	storetest.Summaries(t, func(t *testing.T) storetest.SummaryStore { return open(t) })
}

// TestRollupsOfEventsStoredBefore opens a store whose events were inserted
// before the rollups and their views existed: the migrations roll them up.
func TestRollupsOfEventsStoredBefore(t *testing.T) {
	ctx := context.Background()
	dsn := fmt.Sprintf("clickhouse://%s/usagelog_test_%d_%d", server(), os.Getpid(), seq.Add(1))
	old, err := clickhouse.MigrateOnly(ctx, dsn, 1)
	if err != nil {
		t.Fatal(err)
	}
	events := storetest.RandomCalls(3, 5000, storetest.SummaryNow)
	if _, err := old.Append(ctx, 1, events); err != nil {
		t.Fatal(err)
	}
	// Syncs too: their rollup (migration 035) is filled from them.
	syncs := []usage.Event{
		{Kind: usage.KindSync, ID: "s1", Time: storetest.SummaryNow.AddDate(0, 0, -3), Integration: "int-a", IntegrationStatus: "active", Outcome: "synced"},
		{Kind: usage.KindSync, ID: "s2", Time: storetest.SummaryNow.AddDate(0, 0, -2), Integration: "int-a", IntegrationStatus: "inactive", Outcome: "failed"},
		{Kind: usage.KindSync, ID: "s3", Time: storetest.SummaryNow.AddDate(0, 0, -40), Integration: "int-b", IntegrationStatus: "active", Outcome: "synced"},
	}
	if _, err := old.Append(ctx, 1, syncs); err != nil {
		t.Fatal(err)
	}
	// And observations of one person, days apart, spelled two ways: their
	// rollup (migration 054) is filled from them.
	seen := []usage.Event{
		{Kind: usage.KindUserSeen, ID: "o1", Time: storetest.SummaryNow.AddDate(0, 0, -5), System: "Jira", Email: " Ann@x.example", Interaction: "mention"},
		{Kind: usage.KindUserSeen, ID: "o2", Time: storetest.SummaryNow.AddDate(0, 0, -1), System: "Jira", Email: "ann@x.example ", Interaction: "comment_author"},
	}
	if _, err := old.Append(ctx, 1, seen); err != nil {
		t.Fatal(err)
	}
	old.Close()
	s, err := clickhouse.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.DropDatabase(context.Background())
		s.Close()
	})
	storetest.CompareSummaries(t, s, 1, events, []string{"period=7d", "period=90d", "from=2026-10-30T10:07:13Z"}, "UTC", "Asia/Kathmandu")
	status, err := s.IntegrationStatus(ctx, 1)
	if err != nil || !reflect.DeepEqual(status, map[string]string{"int-a": "inactive", "int-b": "active"}) {
		t.Errorf("integration statuses after the migrations: %v, %v", status, err)
	}
	groups, err := s.SyncGroups(ctx, 1, storetest.SummaryNow.AddDate(-1, 0, 0), storetest.SummaryNow.AddDate(0, 0, -30), storetest.SummaryNow)
	if err != nil || len(groups) != 2 || groups[0].Integration != "int-a" || !groups[0].Recent || groups[0].Synced != 1 ||
		groups[1].Integration != "int-b" || groups[1].Recent || groups[1].Synced != 1 {
		t.Errorf("sync groups after the migrations: %+v, %v", groups, err)
	}
	people, err := s.SeenGroups(ctx, 1, storetest.SummaryNow.AddDate(0, -6, 0), storetest.SummaryNow)
	if err != nil || len(people) != 1 || people[0].Email != " Ann@x.example" || !reflect.DeepEqual(people[0].Interactions, []string{"comment_author", "mention"}) ||
		!people[0].LastSeen.Equal(seen[1].Time) {
		t.Errorf("users seen after the migrations: %+v, %v", people, err)
	}
}

// TestRollupSQLMatchesGo checks that the rollups' views compute timing
// buckets and quarter hours as internal/summary does.
func TestRollupSQLMatchesGo(t *testing.T) {
	files, err := clickhouse.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	// And the cluster's views (cluster/*.sql), which read events_local.
	clusterFiles, err := clickhouse.ClusterMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range clusterFiles {
		f.SQL = strings.ReplaceAll(f.SQL, "{db}.events", "events")
		files = append(files, f)
	}
	grain := func(ms string) string {
		return "(intDiv(time_ms, " + ms + ") * " + ms + " - if(time_ms % " + ms + " < 0, " + ms + ", 0))"
	}
	quarter, hour, day := grain("900000"), grain("3600000"), grain("86400000")
	// Each rollup's grain, and whether it keeps timing buckets.
	rollups := []struct {
		name, grain string
		timing      bool
	}{
		{"rollup_series", quarter, true}, {"rollup_hours", hour, false}, {"rollup_calls", quarter, true},
		{"rollup_totals", quarter, false}, {"rollup_timing_days", day, true}, {"rollup_days", day, false},
		{"rollup_values", hour, true}, {"rollup_syncs", day, false}, {"rollup_seen", day, false},
	}
	for _, f := range files {
		if !strings.Contains(f.SQL, "FROM events") {
			continue
		}
		for _, r := range rollups {
			if !strings.Contains(f.Name, r.name+"_") && !strings.HasSuffix(f.Name, r.name) {
				continue
			}
			if r.timing && !strings.Contains(f.SQL, summary.TimingBucketSQL("timing_ms")) || !strings.Contains(f.SQL, r.grain) {
				t.Errorf("%s does not compute timing buckets as summary.TimingBucketSQL and its grain as summary.Floor", f.Name)
			}
		}
	}
	// And ClickHouse's buckets are Go's, on the values where they change.
	s := open(t)
	for _, ms := range []int64{-5, 0, 1, 127, 128, 129, 130, 131, 1000, 1019, 1020, 1021, 29999, 30000, 123456789} {
		var got int64
		q := "SELECT " + strings.ReplaceAll(summary.TimingBucketSQL("timing_ms"), "timing_ms", fmt.Sprintf("toInt64(%d)", ms))
		if err := clickhouse.QueryRow(context.Background(), s, q, &got); err != nil {
			t.Fatal(err)
		}
		if want := int64(summary.TimingBucket(ms)); got != want {
			t.Errorf("timing %d ms: ClickHouse bucket %d, Go %d", ms, got, want)
		}
	}
}

// TestReclassifyResumed: a run that stopped after moving a month's
// rollups and before rewriting its events is taken up again (resumed):
// the summaries then count every call once, by the new rules.
func TestReclassifyResumed(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	calls := storetest.RandomCalls(21, 3000, storetest.SummaryNow)
	if _, err := s.Append(ctx, 1, calls); err != nil {
		t.Fatal(err)
	}
	rules := storetest.ReclassifyRules
	month := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	if err := clickhouse.MoveCalls(ctx, s, 1, rules, month, month.AddDate(0, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reclassify(ctx, 1, rules, true, nil); err != nil {
		t.Fatal(err)
	}
	for i := range calls {
		calls[i].ClientClass, calls[i].UsageType = rules.Classify(calls[i].URL, calls[i].UserAgent)
	}
	storetest.CompareSummaries(t, s, 1, calls, []string{"period=90d", "from=2026-10-01&to=2026-10-31"}, "UTC")
}

func TestAlertsConformance(t *testing.T) {
	// The rules are kept by the metadata store (sqlmeta, on SQLite here;
	// its PostgreSQL side passes AlertStore in internal/postgres).
	storetest.Alerts(t, func(t *testing.T) storetest.SummaryStore { return open(t) },
		func(t *testing.T) alerts.Store { return sqlitetest.Open(t) })
}
