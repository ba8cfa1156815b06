// Package clickhouse is usagelog's event store on ClickHouse, for more
// events than one machine's SQLite holds: the native protocol
// (clickhouse-go v2, and for scans a reader of its own, native.go), the
// events table of eventsql, and SQL that runs on Debian's ClickHouse 18.16
// and on current releases.
package clickhouse

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"math"
	"net/url"
	"os"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/migration"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

//go:embed migrations/*.sql
var migrations embed.FS

// table is what every read reads: FINAL merges re-sent events that the
// engine has not merged yet, so they count once.
const table = "events FINAL"

// Store is the EventStore on ClickHouse.
type Store struct {
	db   *sql.DB
	conn driver.Conn // native interface, for inserts
	// native is where scans connect (native.go), unless scanDriver sends
	// them through db.
	native     nativeConfig
	scanDriver bool
	// chunkRows is the fewest events a scan's piece holds (chunkRows;
	// smaller in tests, so that their scans come in many pieces).
	chunkRows int64
	// eventsOnly inserts every kind into events, as a store before
	// migration 058 did (tests that fill such a store).
	eventsOnly bool
	// noErased checks no erased ids before an insert, as a store before
	// migration 081 did (MigrateOnly, for tests of older stores).
	noErased bool
	// appends stores Append's events in groups (appends.go).
	appends *appender
	// cluster is the cluster the store is on (cluster.go); nil on one
	// server.
	cluster *cluster
}

var (
	_ usage.EventStore   = (*Store)(nil)
	_ usage.LogScanner   = (*Store)(nil)
	_ usage.EventScanner = (*Store)(nil)
	_ usage.ReportSource = (*Store)(nil)
	_ usage.LogEstimator = (*Store)(nil)
	_ summary.Source     = (*Store)(nil)
)

// Open connects to dsn (clickhouse://host:9000/database), creates the
// database if needed and applies the migrations not yet applied.
//
// The DSN's scan parameter picks how scans read: native (the default) on
// the project's own reader of the native protocol (native.go), driver
// through clickhouse-go, slower but a way out for a server the reader
// cannot talk to. The cluster parameter names a cluster of the servers'
// remote_servers that the store is on (cluster.go). Every other parameter
// is clickhouse-go's.
func Open(ctx context.Context, dsn string) (*Store, error) {
	dsn, scanDriver, clusterName, err := storeOptions(dsn)
	if err != nil {
		return nil, err
	}
	opts, err := ch.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	database := opts.Auth.Database
	if database == "" {
		database = "default"
	}
	if !validName(database) {
		return nil, fmt.Errorf("clickhouse: database name %q: use letters, digits and _", database)
	}
	if clusterName != "" {
		if !validName(clusterName) {
			return nil, fmt.Errorf("clickhouse: cluster name %q: use letters, digits and _", clusterName)
		}
		if opts.Settings == nil {
			opts.Settings = ch.Settings{}
		}
		for k, v := range clusterSettings() {
			opts.Settings[k] = v
		}
	}
	opts.Auth.Database = "default"
	admin := ch.OpenDB(opts)
	var c *cluster
	onCluster := ""
	if clusterName != "" {
		if c, err = lookupCluster(ctx, admin, clusterName); err != nil {
			admin.Close()
			return nil, err
		}
		onCluster = " ON CLUSTER " + clusterName
	}
	_, err = admin.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+database+onCluster)
	admin.Close()
	if err != nil {
		return nil, fmt.Errorf("clickhouse: create database: %w", err)
	}
	opts.Auth.Database = database
	if c != nil {
		c.opts = *opts
	}
	db := ch.OpenDB(opts)
	db.SetMaxOpenConns(16)
	conn, err := ch.Open(opts)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	s := &Store{db: db, conn: conn, chunkRows: chunkRows, scanDriver: scanDriver, cluster: c, native: nativeConfig{
		addrs:       opts.Addr,
		database:    database,
		user:        opts.Auth.Username,
		password:    opts.Auth.Password,
		tls:         opts.TLS,
		dialTimeout: opts.DialTimeout,
		hostname:    hostname(),
	}}
	s.startAppends()
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// storeOptions takes the store's own parameters out of dsn: whether scans
// go through clickhouse-go (scan), and the cluster's name (cluster).
func storeOptions(dsn string) (rest string, scanDriver bool, clusterName string, err error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", false, "", fmt.Errorf("clickhouse: %w", err)
	}
	q := u.Query()
	scan := q.Get("scan")
	if scan != "" && scan != "native" && scan != "driver" {
		return "", false, "", fmt.Errorf("clickhouse: scan=%q: want native or driver", scan)
	}
	if q.Has("cluster") && q.Get("cluster") == "" {
		return "", false, "", fmt.Errorf("clickhouse: cluster=: name a cluster of the servers' remote_servers")
	}
	if !q.Has("scan") && !q.Has("cluster") {
		return dsn, false, "", nil
	}
	clusterName = q.Get("cluster")
	q.Del("scan")
	q.Del("cluster")
	u.RawQuery = q.Encode()
	return u.String(), scan == "driver", clusterName, nil
}

func validName(s string) bool {
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// migrate applies each embedded migration once, in order. A migration is
// one statement; its CREATE … IF NOT EXISTS makes a second replica's run
// harmless.
func (s *Store) migrate(ctx context.Context) error {
	if s.cluster != nil {
		return s.migrateCluster(ctx)
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version Int64, applied_ms Int64) ENGINE = MergeTree() ORDER BY version`); err != nil {
		return fmt.Errorf("clickhouse: migrate: %w", err)
	}
	// A Buffer names its table's database; validName keeps the name safe
	// to splice.
	return s.applyMigrations(ctx, migrations, "migrations", func(sql string) string {
		return strings.ReplaceAll(sql, "{database}", s.native.database)
	})
}

// applyMigrations applies the migrations of dir in fsys that
// schema_migrations does not list, in order, each as render makes it, and
// lists them there.
func (s *Store) applyMigrations(ctx context.Context, fsys fs.FS, dir string, render func(string) string) error {
	files, err := migration.List(fsys, dir)
	if err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	for _, m := range files {
		var n uint64
		if err := s.db.QueryRowContext(ctx, `SELECT count() FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
			return fmt.Errorf("clickhouse: migration %s/%s: %w", dir, m.Name, err)
		}
		if n > 0 {
			continue
		}
		if _, err := s.db.ExecContext(ctx, render(m.SQL)); err != nil {
			return fmt.Errorf("clickhouse: migration %s/%s: %w", dir, m.Name, err)
		}
		if err := s.insert(ctx, `INSERT INTO schema_migrations (version, applied_ms)`, []any{[]int64{m.Version}, []int64{time.Now().UnixMilli()}}); err != nil {
			return fmt.Errorf("clickhouse: migration %s/%s: %w", dir, m.Name, err)
		}
	}
	return nil
}

// insert sends one block through the native interface, a column at a
// time: cols[i] is the []string or []int64 of the statement's i-th column.
// Every INSERT names its columns. database/sql took the rows one by one,
// each value boxed (BenchmarkIngestHTTPClickHouse).
func (s *Store) insert(ctx context.Context, stmt string, cols []any) error {
	batch, err := s.conn.PrepareBatch(ctx, stmt)
	if err != nil {
		return err
	}
	defer batch.Abort()
	for i, c := range cols {
		if err := batch.Column(i).Append(c); err != nil {
			return err
		}
	}
	return batch.Send()
}

// insertTable is where events of kind are inserted: syncs and user_seen
// events through tables of their own, whose views copy them into events
// and roll them up, so that an insert of API calls runs only their views
// (migrations 058-065).
func (s *Store) insertTable(k usage.Kind) string {
	if s.eventsOnly {
		return "events"
	}
	switch k {
	case usage.KindSync:
		return "events_syncs_in"
	case usage.KindUserSeen:
		return "events_seen_in"
	}
	return "events"
}

// columnsOf lays evs out as the columns of an insert of workspace_id, kind
// and cols: a []int64 or []string each.
func columnsOf(workspaceID int64, kind usage.Kind, cols []eventsql.Column, evs []*usage.Event) []any {
	out := make([]any, 0, len(cols)+2)
	ws, kc := make([]int64, len(evs)), make([]int64, len(evs))
	for i := range evs {
		ws[i], kc[i] = workspaceID, eventsql.KindCode(kind)
	}
	out = append(out, ws, kc)
	for _, c := range cols {
		switch eventsql.InsertValue(c.Ptr(evs[0])).(type) {
		case string:
			out = append(out, column[string](c, evs))
		default:
			out = append(out, column[int64](c, evs))
		}
	}
	return out
}

// column is one insert column of evs. Plain string and int64 fields are
// read directly: InsertValue's any would box every value.
func column[T string | int64](c eventsql.Column, evs []*usage.Event) []T {
	v := make([]T, len(evs))
	for i, e := range evs {
		if p, ok := c.Ptr(e).(*T); ok {
			v[i] = *p
		} else {
			v[i] = eventsql.InsertValue(c.Ptr(e)).(T)
		}
	}
	return v
}

// existing returns which of evs' ids the workspace already holds, among
// its events of kind between their earliest and latest time: a re-sent
// event carries its time, and the table's order makes that range cheap.
// The ids travel as an external table (a data block) rather than SQL, which
// ClickHouse would have to parse literal by literal.
func (s *Store) existing(ctx context.Context, workspaceID int64, kind usage.Kind, evs []*usage.Event) (map[string]bool, error) {
	ids, err := ext.NewTable("batch_ids", ext.Column("id", "String"))
	if err != nil {
		return nil, err
	}
	lo, hi := evs[0].Time.UnixMilli(), evs[0].Time.UnixMilli()
	for _, e := range evs {
		t := e.Time.UnixMilli()
		lo, hi = min(lo, t), max(hi, t)
		if err := ids.Append(e.ID); err != nil {
			return nil, err
		}
	}
	ctx = ch.Context(ctx, ch.WithExternalTable(ids))
	query := `SELECT id FROM events WHERE workspace_id = ? AND kind = ? AND time_ms >= ? AND time_ms <= ? AND id IN (SELECT id FROM batch_ids)`
	args := []any{workspaceID, eventsql.KindCode(kind), lo, hi}
	if !s.noErased {
		// Erased events' ids count as stored (erase.go): a client's retry
		// does not bring the person back.
		query += ` UNION ALL SELECT id FROM erased_events WHERE workspace_id = ? AND id IN (SELECT id FROM batch_ids)`
		args = append(args, workspaceID)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// IngestBatch is how many events an ingest should hand Append at a time:
// every insert is a part on disk, and a 10,000-row insert costs about 2.5
// times a 2,000-row one for 5 times the rows.
func (s *Store) IngestBatch() int { return 10_000 }

// Logs returns one page of api_request events, newest first, in two
// steps: the page's keys (time, id) with FINAL, which reads two columns,
// then those rows' columns without FINAL from the page's narrow time span.
// FINAL over every column of a busy day is most of the cost otherwise
// (BenchmarkLogsFirstPageClickHouse).
func (s *Store) Logs(ctx context.Context, workspaceID int64, q usage.LogQuery) ([]usage.Event, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	keys, err := s.pageKeys(ctx, workspaceID, q, limit, time.Now())
	if err != nil {
		return nil, fmt.Errorf("clickhouse: logs: %w", err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	ids := make([]any, 0, len(keys)+4)
	ids = append(ids, workspaceID, eventsql.KindCode(usage.KindAPIRequest), keys[len(keys)-1].Time.UnixMilli(), keys[0].Time.UnixMilli())
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	// LIMIT 1 BY drops a re-sent copy not yet merged away: both are the
	// same event.
	rows := `SELECT ` + eventsql.Names(eventsql.APIColumns) + ` FROM events
		WHERE workspace_id = ? AND kind = ? AND time_ms >= ? AND time_ms <= ? AND id IN (` + eventsql.Placeholders(len(keys)) + `)
		ORDER BY time_ms DESC, id DESC LIMIT 1 BY time_ms, id`
	out, err := eventsql.Query(ctx, s.db, usage.KindAPIRequest, eventsql.APIColumns, rows, ids)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: logs: %w", err)
	}
	return out, nil
}

// pageWindows are how far back from the page's end pageKeys looks, one
// window after another, before it reads the whole period: ClickHouse 18.16
// cannot read a table in its key order, so ORDER BY … LIMIT over 90 days
// merges (FINAL) and sorts every call of them for one page. The newest
// hour holds a page of any busy workspace; each window is eight times the
// last, so a filter that matches little costs about 1.14 reads of the
// period in all.
var pageWindows = []time.Duration{time.Hour, 8 * time.Hour, 64 * time.Hour, 512 * time.Hour, 4096 * time.Hour}

// pageKeys returns the ids and times of q's page, newest first: from the
// newest window (pageWindows, back from the newest quarter hour with calls)
// that holds a whole page, else from the whole period. A window is bounded below only, so events dated after now are
// in every window, as they are on the page.
func (s *Store) pageKeys(ctx context.Context, workspaceID int64, q usage.LogQuery, limit int, now time.Time) ([]usage.Event, error) {
	keyCols, _ := eventsql.Projection(eventsql.APIColumns, []string{"id", "time"})
	end := now
	if !q.To.IsZero() && q.To.Before(end) {
		end = q.To
	}
	if q.After != nil && time.UnixMilli(q.After.TimeMS+1).Before(end) {
		end = time.UnixMilli(q.After.TimeMS + 1)
	}
	// The windows reach back from the newest quarter hour with calls
	// before end (rollup_totals: a row a quarter hour), so that a
	// workspace quiet for weeks is not read in ever wider empty windows.
	// Any anchor gives the same page: a window is bounded below only.
	var newest, quarters int64
	lo := int64(math.MinInt64)
	if !q.From.IsZero() {
		lo = summary.Floor(q.From.UnixMilli(), summary.QuarterMS)
	}
	from, args := s.rollupFrom("rollup_totals", "WHERE workspace_id = ? AND bucket_ms >= ? AND bucket_ms < ?", []any{workspaceID, lo, end.UnixMilli()}, true)
	if err := s.db.QueryRowContext(ctx, `SELECT toInt64(max(bucket_ms)), toInt64(count()) FROM `+from, args...).Scan(&newest, &quarters); err != nil {
		return nil, err
	}
	windows := pageWindows
	if quarters == 0 {
		windows = nil // no rolled-up call in the period: the whole of it
	} else if a := time.UnixMilli(newest + summary.QuarterMS); a.Before(end) {
		end = a
	}
	for _, w := range windows {
		from := end.Add(-w)
		if !q.From.IsZero() && !from.After(q.From) {
			break
		}
		f := q.LogFilter
		f.From = from
		query, args := eventsql.LogsQuery{WorkspaceID: workspaceID, Filter: f, After: q.After, Limit: limit, Cols: keyCols, Table: table}.SQL()
		keys, err := eventsql.Query(ctx, s.db, usage.KindAPIRequest, keyCols, query, args)
		if err != nil || len(keys) == limit {
			return keys, err
		}
	}
	query, args := eventsql.LogsQuery{WorkspaceID: workspaceID, Filter: q.LogFilter, After: q.After, Limit: limit, Cols: keyCols, Table: table}.SQL()
	return eventsql.Query(ctx, s.db, usage.KindAPIRequest, keyCols, query, args)
}

func failed(err error) iter.Seq2[*usage.Event, error] {
	return func(yield func(*usage.Event, error) bool) { yield(nil, err) }
}

func wrap(op string, seq iter.Seq2[*usage.Event, error]) iter.Seq2[*usage.Event, error] {
	return func(yield func(*usage.Event, error) bool) {
		for e, err := range seq {
			if err != nil {
				err = fmt.Errorf("clickhouse: %s: %w", op, err)
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

// CountLogs returns how many api_request events match f.
func (s *Store) CountLogs(ctx context.Context, workspaceID int64, f usage.LogFilter) (int64, error) {
	query, args := eventsql.LogsQuery{WorkspaceID: workspaceID, Filter: f, Count: true, Table: table}.SQL()
	var n int64
	if err := s.db.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("clickhouse: count logs: %w", err)
	}
	return n, nil
}

// EstimateLogs counts the api_request events that match f without FINAL,
// which reads three narrow columns instead of merging every row: a
// re-sent event not yet merged away counts twice.
func (s *Store) EstimateLogs(ctx context.Context, workspaceID int64, f usage.LogFilter) (int64, error) {
	query, args := eventsql.LogsQuery{WorkspaceID: workspaceID, Filter: f, Count: true, Table: "events"}.SQL()
	var n int64
	if err := s.db.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("clickhouse: estimate logs: %w", err)
	}
	return n, nil
}

// Count returns how many events of a kind the workspace holds.
func (s *Store) Count(ctx context.Context, workspaceID int64, kind usage.Kind) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count() FROM `+table+` WHERE workspace_id = ? AND kind = ?`, workspaceID, eventsql.KindCode(kind)).Scan(&n); err != nil {
		return 0, fmt.Errorf("clickhouse: count: %w", err)
	}
	return n, nil
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("clickhouse: ping: %w", err)
	}
	return nil
}

// Close closes the connections.
func (s *Store) Close() error {
	s.appends.close()
	return errors.Join(s.conn.Close(), s.db.Close(), s.closeNodes())
}

// DropDatabase removes the store's database: for tests.
func (s *Store) DropDatabase(ctx context.Context) error {
	var name string
	if err := s.db.QueryRowContext(ctx, `SELECT currentDatabase()`).Scan(&name); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" "+s.onCluster())
	return err
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}
