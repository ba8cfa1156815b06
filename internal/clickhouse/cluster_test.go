package clickhouse_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/clickhouse"
	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// The cluster's tests run on scripts/clickhouse-cluster.sh's two shards of
// two replicas (openCluster). The event store conformance suite is in
// store_test.go; the faults in cluster_faults_test.go.

func TestSummariesConformanceCluster(t *testing.T) {
	storetest.Summaries(t, func(t *testing.T) storetest.SummaryStore { return openCluster(t) })
}

// TestClusterSchemaIsTheServers holds the cluster's tables (cluster/*.sql)
// to the single server's: the same columns of the same types, under the
// same names, so that one set of queries reads both.
func TestClusterSchemaIsTheServers(t *testing.T) {
	ctx := context.Background()
	one, many := open(t), openCluster(t)
	columns := func(s *clickhouse.Store) map[string][]string {
		t.Helper()
		tables, err := clickhouse.Columns(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		return tables
	}
	want, got := columns(one), columns(many)
	for table, cols := range want {
		if strings.HasSuffix(table, "_buffer") || strings.HasPrefix(table, "rollup_incoming") || table == "rollup_series" || table == "schema_migrations" {
			continue // one server's alone (cluster.go)
		}
		if !slices.Equal(got[table], cols) {
			t.Errorf("%s on the cluster: %v\n  on one server: %v", table, got[table], cols)
		}
		if local := got[table+"_local"]; !strings.HasSuffix(table, "_view") && !strings.HasSuffix(table, "_copy") && !slices.Equal(local, cols) {
			t.Errorf("%s_local on the cluster: %v\n  on one server: %v", table, local, cols)
		}
	}
}

// reportEvents are events of every kind, some sent twice.
func reportEvents() []usage.Event {
	events := storetest.Fixture(3000)
	events = append(events, storetest.ReportsFixture()...)
	return append(events, storetest.ActivityFixture()...)
}

// TestClusterReportsMatchOneServer runs every report of the catalogue on
// one server and on the cluster, holding the same events: the files are
// the same, byte for byte (the shards' rows merged in the server's order,
// by id where times are equal, in pieces of 500 events).
func TestClusterReportsMatchOneServer(t *testing.T) {
	ctx := context.Background()
	events := reportEvents()
	tie := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for i := range 300 {
		events = append(events, usage.Event{Kind: usage.KindAPIRequest, ID: fmt.Sprintf("tie-%03d", (i*7)%300), Time: tie,
			Method: "GET", URL: "/a/rest/v1/ideas", Status: 200, Client: "Data Team", Collection: "HR recipes", CollectionType: "recipe"})
	}
	stores := []*clickhouse.Store{open(t), openCluster(t)}
	for _, s := range stores {
		clickhouse.SetChunkRows(s, 500)
		for part := range slices.Chunk(events, 700) {
			if _, err := s.Append(ctx, 1, part); err != nil {
				t.Fatal(err)
			}
		}
		// And again: re-sent events are duplicates on both.
		if _, err := s.Append(ctx, 1, events[:500]); err != nil {
			t.Fatal(err)
		}
	}
	sameReports(t, stores[0], stores[1])
}

// TestClusterMoveFromOneServer moves a single server's store onto the
// cluster as docs/deploy.md says: its INSERT … SELECT FROM remote() through
// the Distributed tables. The cluster's reports are then the server's.
func TestClusterMoveFromOneServer(t *testing.T) {
	ctx := context.Background()
	one, many := open(t), openCluster(t)
	if _, err := one.Append(ctx, 1, reportEvents()); err != nil {
		t.Fatal(err)
	}
	var oneDB string
	if err := clickhouse.QueryRow(ctx, one, "SELECT currentDatabase()", &oneDB); err != nil {
		t.Fatal(err)
	}
	// The statements of docs/deploy.md, with the test's names.
	src := fmt.Sprintf("remote('%s', %s, events)", server(), oneDB)
	for _, q := range []string{
		"INSERT INTO events SELECT * FROM " + src + " FINAL WHERE kind NOT IN (3, 4)",
		"INSERT INTO events_syncs_in SELECT * FROM " + src + " FINAL WHERE kind = 3",
		"INSERT INTO events_seen_in SELECT * FROM " + src + " FINAL WHERE kind = 4",
	} {
		if err := clickhouse.Exec(ctx, many, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	sameReports(t, one, many)
	storetest.CompareSummaries(t, many, 1, reportEvents(), []string{"period=7d", "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z"}, "UTC")
}

// sameReports runs every report of the catalogue on a and b, unfiltered
// and filtered, and holds their files to the same bytes.
func sameReports(t *testing.T, a, b usage.EventStore) {
	t.Helper()
	ctx := context.Background()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// The fixture's calls start on 2026-03-08 and go on a minute apart.
	filters := []usage.FilterValues{nil, {"from": {"2026-03-09"}, "to": {"2026-03-10"}}, {"status_class": {"5xx"}}, {"client": {"Data Team"}}}
	for _, r := range export.Catalogue {
		for i, f := range filters {
			if r.Name != "api-logs" && r.Name != "api-usage" {
				if i > 0 {
					continue
				}
				f = usage.FilterValues{"from": {"2025-01-01"}, "to": {"2026-12-31"}}
			}
			if r.Name == "usage-reports" {
				f = nil
			}
			var files [][]byte
			for _, s := range []usage.EventStore{a, b} {
				run, err := r.Plan(export.Job{Events: s, Workspace: usage.Workspace{ID: 1, Name: usage.DefaultWorkspace}, Filters: f,
					Timezone: ny.String(), Loc: ny, Now: storetest.ReportsNow, MaxRangeDays: -1})
				if err != nil {
					t.Fatalf("%s %v: %v", r.Name, f, err)
				}
				write, err := run.Start(ctx, func(int64, int64) {})
				if err != nil {
					t.Fatalf("%s %v: %v", r.Name, f, err)
				}
				var buf bytes.Buffer
				if _, err := write(&buf); err != nil {
					t.Fatalf("%s %v: %v", r.Name, f, err)
				}
				files = append(files, buf.Bytes())
			}
			if r.Name != "usage-reports" && bytes.Count(files[0], []byte("\n")) < 2 {
				t.Errorf("%s %v: no row: the fixture should give some", r.Name, f)
			}
			if !bytes.Equal(files[0], files[1]) {
				t.Errorf("%s %v: the cluster's file (%d bytes) differs from one server's (%d bytes)", r.Name, f, len(files[1]), len(files[0]))
			}
		}
	}
}

// TestClusterNames checks the DSN's cluster parameter.
func TestClusterNames(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct{ params, want string }{
		{"?cluster=", "cluster=: name a cluster"},
		{"?cluster=no_such", `cluster "no_such" is not in the server's remote_servers`},
		{"?cluster=a-b", `cluster name "a-b"`},
		// Debian's config has this one-node cluster and leaves
		// load_balancing at random, where a read may miss a replica's
		// last insert: the store refuses, naming the setting.
		{"?cluster=test_shard_localhost", "load_balancing is random for this user; set it to in_order"},
	} {
		_, err := clickhouse.Open(ctx, fmt.Sprintf("clickhouse://%s/usagelog_test_names%s", server(), tt.params))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.params, err, tt.want)
		}
	}
}
