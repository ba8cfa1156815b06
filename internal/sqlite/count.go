package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// CountLogs returns how many api_request events match f. The rollups count
// the whole quarter hours between f's times, the events the ends and
// usagelog's own calls, which the rollups leave out. Counted from the
// events alone, every filter reads each row's collection (to leave
// usagelog's own calls out): on a store whose rows arrived out of time
// order, a random page a row, as slow as the export the count sizes.
func (s *Store) CountLogs(ctx context.Context, workspaceID int64, f usage.LogFilter) (int64, error) {
	defer s.timed("count_logs", time.Now())
	n, err := s.countLogs(ctx, workspaceID, f)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count logs: %w", err)
	}
	s.counted.keep(workspaceID, f, n)
	return n, nil
}

// countMemo is the latest count of CountLogs: a scan of the same filter
// right after (a row-limited export counts, then scans) splits its windows
// by it rather than counting again. A count goes stale in countMemoTTL; a
// stale one would only size the windows less evenly.
type countMemo struct {
	mu  sync.Mutex
	key string
	n   int64
	at  time.Time
}

const countMemoTTL = 5 * time.Second

func memoKey(workspaceID int64, f usage.LogFilter) string {
	f.TZ = nil // the zone writes times, it selects nothing
	return fmt.Sprintf("%d|%+v", workspaceID, f)
}

func (m *countMemo) keep(workspaceID int64, f usage.LogFilter, n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.key, m.n, m.at = memoKey(workspaceID, f), n, time.Now()
}

func (m *countMemo) lookup(workspaceID int64, f usage.LogFilter) (int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.key != memoKey(workspaceID, f) || time.Since(m.at) > countMemoTTL {
		return 0, false
	}
	return m.n, true
}

func (s *Store) countLogs(ctx context.Context, workspaceID int64, f usage.LogFilter) (int64, error) {
	first, last, ok, err := s.timeSpan(ctx, workspaceID)
	if err != nil || !ok {
		return 0, err
	}
	from, to := first, last+1
	if !f.From.IsZero() {
		from = max(from, f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		to = min(to, f.To.UnixMilli())
	}
	plan := summary.PlanFilter(f, from, to)
	var n int64
	if sp := plan.Rolled; sp != nil {
		r, err := s.Rollup(ctx, workspaceID, summary.Query{Filter: sp.Filter, Bounds: []int64{sp.Lo, sp.Hi}})
		if err != nil {
			return 0, err
		}
		n = r.Buckets[0].Calls
	}
	for _, e := range plan.Scans {
		m, err := s.countEvents(ctx, workspaceID, e)
		if err != nil {
			return 0, err
		}
		n += m
	}
	return n, nil
}

// timeSpan returns the times of the workspace's first and last
// api_request, each one step down each table's time index.
func (s *Store) timeSpan(ctx context.Context, workspaceID int64) (first, last int64, ok bool, err error) {
	kind := eventsql.KindCode(usage.KindAPIRequest)
	var lo, hi sql.NullInt64
	err = s.read.QueryRowContext(ctx, timeSpanSQL(), workspaceID, kind, int64(-1<<63), int64(1<<63-1)).Scan(&lo, &hi)
	return lo.Int64, hi.Int64, lo.Valid && hi.Valid, err
}

// countEvents counts the events that match f, one by one.
func (s *Store) countEvents(ctx context.Context, workspaceID int64, f usage.LogFilter) (int64, error) {
	query, args := eventsql.LogsQuery{WorkspaceID: workspaceID, Filter: f, Count: true, Table: s.stored}.SQL()
	var n int64
	err := s.read.QueryRowContext(ctx, query, args...).Scan(&n)
	return n, err
}

// timeSpanSQL is a query of the first and last time of a workspace's
// events of a kind (?1, ?2) in [?3, ?4), of both tables: one index seek
// each. SQLite's min and max of two values are NULL when one is; the
// aggregates over the values are not.
func timeSpanSQL() string {
	one := func(agg, table string) string {
		return `SELECT ` + agg + `(time_ms) AS t FROM ` + table + ` WHERE workspace_id = ?1 AND kind = ?2 AND time_ms >= ?3 AND time_ms < ?4`
	}
	return `SELECT (SELECT min(t) FROM (` + one("min", eventsTable) + ` UNION ALL ` + one("min", waitingView) + `)),
		(SELECT max(t) FROM (` + one("max", eventsTable) + ` UNION ALL ` + one("max", waitingView) + `))`
}
