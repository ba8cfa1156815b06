package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// Rollup sums the workspace's rollups over q's buckets, each read through
// its buffer (which reads the table too), from the narrowest rollup that
// answers each part (migrations 038-053):
//
//   - the series of an unfiltered query from rollup_totals (a row a
//     quarter hour), of a query filtered on the status class, the client or
//     the collection alone from rollup_values (a
//     row a value, hour and timing bucket, ordered by field and value so
//     that only the filter's values are read), else from rollup_calls;
//   - the timing histogram the same way, whole UTC days of an unfiltered
//     query from rollup_timing_days;
//   - the dimensions from rollup_days over whole UTC days, rollup_hours
//     over whole hours and rollup_calls over the quarter hours at the ends
//     (summary.Cover), with the filter's terms.
//
// The materialized views fill them from the inserted calls, a second or
// two after each insert (incoming.go).
//
// A read of a buffer picks the table's parts first and takes the buffer's
// rows after, and a read of a rollup adds rollup_incoming_buffer's rows
// (rollupFrom): rows a buffer flushes in between are counted twice or not
// at all. So a summary is read between two counts of the server's buffer
// flushes (flushCount), and read again (rollupReads in all) when one fell
// in between, or when its queries, which count the same calls, disagree;
// while events keep arriving, the last read is returned as it is.
func (s *Store) Rollup(ctx context.Context, workspaceID int64, q summary.Query) (*summary.Rollup, error) {
	n := len(q.Bounds)
	if n < 2 || q.Bounds[0] >= q.Bounds[n-1] {
		return summary.NewRollup(n - 1), nil
	}
	for attempt := 1; ; attempt++ {
		before, pending, err := s.flushCount(ctx, workspaceID)
		if err != nil {
			return nil, fmt.Errorf("clickhouse: rollup: %w", err)
		}
		r := summary.NewRollup(n - 1)
		var c counts
		if q.Filtered() {
			err = s.rollupFiltered(ctx, workspaceID, q, r, &c, pending > 0)
		} else {
			err = s.rollupAll(ctx, workspaceID, q, r, &c, pending > 0)
		}
		if err != nil {
			return nil, fmt.Errorf("clickhouse: rollup: %w", err)
		}
		if attempt == rollupReads {
			return r, nil
		}
		if !c.agree() {
			continue
		}
		// With none of the workspace's calls in rollup_incoming_buffer,
		// the rollups' own buffers may still hold some: a flush of one
		// that begins during the read hides them. A 90-day total of
		// TestSummariesConformance once read 0 of 1,339 calls so.
		if after, _, err := s.flushCount(ctx, -1); err != nil {
			return nil, fmt.Errorf("clickhouse: rollup: %w", err)
		} else if after == before {
			return r, nil
		}
	}
}

// flushCount is how many times the server's Buffer tables have been
// flushed (system.events), and how many of the workspace's calls wait in
// rollup_incoming_buffer, once every flush under way has ended (for a
// workspace; workspaceID -1 only counts): a
// flush holds its buffer from before it is counted until its rows are in
// the rollups, and the read of the buffer (after the count) waits for it.
// So the reads made after flushCount see no flush of it half done, and
// when the next flushCount gives the same number, none began meanwhile.
func (s *Store) flushCount(ctx context.Context, workspaceID int64) (flushes, pending int64, err error) {
	if s.cluster != nil {
		return 0, 0, nil // no buffers (cluster.go)
	}
	err = s.db.QueryRowContext(ctx, `SELECT (SELECT toInt64(sum(value)) FROM system.events WHERE event = 'StorageBufferFlush'),
		(SELECT toInt64(count()) FROM rollup_incoming_buffer WHERE workspace_id = ?)`, workspaceID).Scan(&flushes, &pending)
	if err != nil {
		return 0, 0, fmt.Errorf("buffer flushes: %w", err)
	}
	if workspaceID >= 0 {
		// The event is counted when a flush begins, after its rows leave
		// the buffer and before they reach the table, under the buffer's
		// lock: a flush counted here but not yet done would hide its rows
		// from the read, and the next count would not tell. A read of
		// each buffer waits for its lock. A 90-day summary of
		// TestSummariesConformance read 555 of 2,094 calls without it.
		var n int64
		if err := s.db.QueryRowContext(ctx, waitForBufferFlushes).Scan(&n); err != nil {
			return 0, 0, fmt.Errorf("buffer flushes: %w", err)
		}
	}
	return flushes, pending, nil
}

// rollupReads is how many times Rollup reads a summary whose queries
// disagree.
const rollupReads = 4

// counts are the calls each query of one summary counted.
type counts []*int64

// add returns a query's own counter.
func (c *counts) add() *int64 {
	n := new(int64)
	*c = append(*c, n)
	return n
}

// drop takes n, a counter of a query not run, out of the comparison.
func (c *counts) drop(n *int64) {
	*c = slices.DeleteFunc(*c, func(m *int64) bool { return m == n })
}

func (c counts) agree() bool {
	for _, n := range c {
		if *n != *c[0] {
			return false
		}
	}
	return true
}

func (s *Store) rollupAll(ctx context.Context, workspaceID int64, q summary.Query, r *summary.Rollup, c *counts, tail bool) error {
	lo, hi := q.Bounds[0], q.Bounds[len(q.Bounds)-1]
	from, span := s.rollupFrom("rollup_totals", "WHERE workspace_id = ? AND bucket_ms >= ? AND bucket_ms < ?", []any{workspaceID, lo, hi}, tail)
	series := `SELECT bucket_ms, toInt64(sum(calls)), toInt64(sum(errors)), toInt64(sum(mcp)) FROM ` + from + ` GROUP BY bucket_ms`
	seriesCalls, timingCalls, dimsCalls := c.add(), c.add(), c.add()
	mu := new(sync.Mutex) // the parts below share r and the counters
	dims, timing := extraReads(&q)
	var parts []func(context.Context) error
	if dims {
		parts = s.dims(workspaceID, lo, hi, nil, q.NoDims, r, mu, dimsCalls, tail)
	} else {
		c.drop(dimsCalls)
	}
	parts = append(parts, func(ctx context.Context) error { return s.series(ctx, series, span, q, r, mu, true, seriesCalls) })
	if !timing {
		c.drop(timingCalls)
	} else {
		// Whole days from rollup_timing_days, whole hours from the status
		// classes of rollup_values (which together are every call), the
		// quarter hours at the ends from rollup_calls: no view keeps a
		// quarter-hour timing rollup of its own, which cost every insert.
		cover := coverWhere(workspaceID, lo, hi)
		hours := cover[summary.HourMS]
		if hours.sql != "" {
			hours.sql += " AND dim = 0"
		}
		for _, p := range []struct {
			table string
			where pieceWhere
		}{{"rollup_timing_days", cover[summary.DayMS]}, {"rollup_values", hours}, {"rollup_calls", cover[summary.QuarterMS]}} {
			if p.where.sql != "" {
				parts = append(parts, func(ctx context.Context) error {
					return s.timing(ctx, p.table, p.where.sql, p.where.args, r, mu, timingCalls, tail)
				})
			}
		}
	}
	return together(ctx, parts)
}

// extraReads says which reads a summary makes beside its series: the
// timings unless q leaves them out, and the dimensions unless q leaves
// them out while the timings are read (with q.NoDims, their count alone).
// One of the two always runs: the series is counted against a second
// read (counts.agree).
func extraReads(q *summary.Query) (dims, timing bool) {
	timing = !q.DimsOnly && !q.NoTiming
	return !(q.NoDims && !q.NoTiming), timing
}

// together runs a summary's queries side by side: each waits mostly on
// the server, and a summary is the sum of their round trips otherwise.
// Their callbacks share the rollup under rollupMu.
func together(ctx context.Context, parts []func(context.Context) error) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, p := range parts {
		g.Go(func() error { return p(ctx) })
	}
	return g.Wait()
}

// pieceWhere is a WHERE clause and its arguments.
type pieceWhere struct {
	sql  string
	args []any
}

// coverWhere is the WHERE clause of each grain's pieces of summary.Cover
// over [lo, hi), by grain; a grain without pieces has none.
func coverWhere(workspaceID, lo, hi int64) map[int64]pieceWhere {
	ors := map[int64][]string{}
	out := map[int64]pieceWhere{}
	for _, p := range summary.Cover(lo, hi) {
		w := out[p.Grain]
		if w.args == nil {
			w.args = []any{workspaceID}
		}
		ors[p.Grain] = append(ors[p.Grain], "(bucket_ms >= ? AND bucket_ms < ?)")
		w.args = append(w.args, p.From, p.To)
		out[p.Grain] = w
	}
	for g, w := range out {
		w.sql = "WHERE workspace_id = ? AND (" + strings.Join(ors[g], " OR ") + ")"
		out[g] = w
	}
	return out
}

// series adds the calls and errors per bucket of query's rows (bucket,
// calls, errors and, if withMCP, MCP calls), counting them in calls.
func (s *Store) series(ctx context.Context, query string, args []any, q summary.Query, r *summary.Rollup, mu *sync.Mutex, withMCP bool, calls *int64) error {
	return s.lockedRows(ctx, mu, query, args, func(scan func(...any) error) error {
		var bucket, mcp int64
		var t summary.Tally
		dest := []any{&bucket, &t.Calls, &t.Errors}
		if withMCP {
			dest = append(dest, &mcp)
		}
		if err := scan(dest...); err != nil {
			return err
		}
		if i := q.Bucket(bucket); i >= 0 {
			r.Buckets[i].Calls += t.Calls
			r.Buckets[i].Errors += t.Errors
		}
		if withMCP {
			r.MCP += mcp
		}
		*calls += t.Calls
		return nil
	})
}

// dims returns the queries that add the dimensions of the calls between lo
// and hi that match f (nil: every call), to run side by side (together):
// whole days from rollup_days, whole hours from rollup_hours, the quarter
// hours at the ends from rollup_calls. With a filter, usage types count
// too (a filtered summary's MCP calls). countOnly counts the calls alone,
// adding nothing to r: when nothing else is read but the series, the
// series' count is checked against it (counts.agree), as ClickHouse's
// Buffer tables hide a block while they flush it.
func (s *Store) dims(workspaceID, lo, hi int64, f *usage.LogFilter, countOnly bool, r *summary.Rollup, mu *sync.Mutex, calls *int64, tail bool) []func(context.Context) error {
	tables := map[int64]string{summary.DayMS: "rollup_days", summary.HourMS: "rollup_hours", summary.QuarterMS: "rollup_calls"}
	var parts []func(context.Context) error
	for _, grain := range []int64{summary.DayMS, summary.HourMS, summary.QuarterMS} {
		var ors []string
		args := []any{workspaceID}
		for _, p := range summary.Cover(lo, hi) {
			if p.Grain == grain {
				ors = append(ors, "(bucket_ms >= ? AND bucket_ms < ?)")
				args = append(args, p.From, p.To)
			}
		}
		if len(ors) == 0 {
			continue
		}
		var b strings.Builder
		b.WriteString("WHERE workspace_id = ? AND (" + strings.Join(ors, " OR ") + ")")
		if f != nil {
			args = eventsql.FilterSQL(&b, f, args)
		}
		parts = append(parts, func(ctx context.Context) error {
			if countOnly {
				from, args := s.rollupFrom(tables[grain], b.String(), args, tail)
				return s.lockedRows(ctx, mu, `SELECT toInt64(sum(calls)) FROM `+from, args, func(scan func(...any) error) error {
					var n int64
					err := scan(&n)
					*calls += n
					return err
				})
			}
			return s.callDims(ctx, tables[grain], b.String(), args, r, mu, f != nil, calls, tail)
		})
	}
	return parts
}

func (s *Store) rollupFiltered(ctx context.Context, workspaceID int64, q summary.Query, r *summary.Rollup, c *counts, tail bool) error {
	lo, hi := q.Bounds[0], q.Bounds[len(q.Bounds)-1]
	// The series and timings: the whole hours from rollup_values when it
	// answers the filter, the rest (all of it when it does not) from
	// rollup_calls.
	type source struct {
		table, series, where string
		args                 []any
	}
	var sources []source
	callsSource := func(spans [][2]int64) {
		var ors []string
		args := []any{workspaceID}
		for _, sp := range spans {
			if sp[0] < sp[1] {
				ors = append(ors, "(bucket_ms >= ? AND bucket_ms < ?)")
				args = append(args, sp[0], sp[1])
			}
		}
		if len(ors) == 0 {
			return
		}
		var b strings.Builder
		b.WriteString("WHERE workspace_id = ? AND (" + strings.Join(ors, " OR ") + ")")
		args = eventsql.FilterSQL(&b, &q.Filter, args)
		sources = append(sources, source{"rollup_calls", "toInt64(sumIf(calls, status >= 400))", b.String(), args})
	}
	if where, args, h0, h1, ok := valuesWhere(workspaceID, &q); ok {
		sources = append(sources, source{"rollup_values", "toInt64(sum(errors))", where, args})
		callsSource([][2]int64{{lo, h0}, {h1, hi}})
	} else if h0, h1, ok := wholeHours(&q); ok && q.NoTiming {
		// Without timings, whole hours of any filter from rollup_hours,
		// a tenth of rollup_calls' rows (no timing bucket in its key).
		var b strings.Builder
		b.WriteString("WHERE workspace_id = ? AND bucket_ms >= ? AND bucket_ms < ?")
		args := eventsql.FilterSQL(&b, &q.Filter, []any{workspaceID, h0, h1})
		sources = append(sources, source{"rollup_hours", "toInt64(sumIf(calls, status >= 400))", b.String(), args})
		callsSource([][2]int64{{lo, h0}, {h1, hi}})
	} else {
		callsSource([][2]int64{{lo, hi}})
	}
	seriesCalls, timingCalls, dimsCalls := c.add(), c.add(), c.add()
	mu := new(sync.Mutex) // the parts below share r and the counters
	dims, timing := extraReads(&q)
	var parts []func(context.Context) error
	if dims {
		parts = s.dims(workspaceID, lo, hi, &q.Filter, q.NoDims, r, mu, dimsCalls, tail)
	} else {
		c.drop(dimsCalls)
	}
	if !timing {
		c.drop(timingCalls)
	}
	for _, src := range sources {
		parts = append(parts, func(ctx context.Context) error {
			from, args := s.rollupFrom(src.table, src.where, src.args, tail)
			query := `SELECT bucket_ms, toInt64(sum(calls)), ` + src.series + ` FROM ` + from + ` GROUP BY bucket_ms`
			return s.series(ctx, query, args, q, r, mu, false, seriesCalls)
		})
		if timing {
			parts = append(parts, func(ctx context.Context) error {
				return s.timing(ctx, src.table, src.where, src.args, r, mu, timingCalls, tail)
			})
		}
	}
	return together(ctx, parts)
}

// valuesWhere is the WHERE clause of rollup_values for q over its whole
// hours h0..h1: when q filters on one field alone, one that rollup_values
// keeps (status class, client or collection), and its buckets are
// made of whole hours but at the ends (rollup_values' grain; zones a
// quarter or half hour off UTC are not), else ok is false.
func valuesWhere(workspaceID int64, q *summary.Query) (where string, args []any, h0, h1 int64, ok bool) {
	h0, h1, ok = wholeHours(q)
	if !ok {
		return "", nil, 0, 0, false
	}
	f := &q.Filter
	var dim int64
	var values []string
	set := 0
	pick := func(d int64, vs ...string) {
		if len(vs) > 0 && vs[0] != "" {
			dim, values = d, vs
			set++
		}
	}
	var classes, statuses []string
	for _, c := range f.StatusClasses {
		classes = append(classes, strconv.Itoa(c))
	}
	for _, st := range f.Statuses {
		statuses = append(statuses, strconv.Itoa(st))
	}
	// The dims as migration 041 numbers them; a filter on any other field
	// reads rollup_calls.
	pick(0, classes...)
	pick(-1, statuses...)
	pick(2, f.Clients...)
	pick(3, f.Collections...)
	pick(-1, f.CollectionType)
	pick(-1, f.Communities...)
	pick(-1, string(f.UsageType))
	if set != 1 || dim < 0 {
		return "", nil, 0, 0, false
	}
	args = []any{workspaceID, dim}
	for _, v := range values {
		args = append(args, v)
	}
	args = append(args, h0, h1)
	return "WHERE workspace_id = ? AND dim = ? AND value IN (" + eventsql.Placeholders(len(values)) + ") AND bucket_ms >= ? AND bucket_ms < ?", args, h0, h1, true
}

// wholeHours is the span h0..h1 of q's whole hours, when there is one and
// q's buckets are made of whole hours but at the ends (hour-grained
// rollups answer them; zones a quarter or half hour off UTC do not).
func wholeHours(q *summary.Query) (h0, h1 int64, ok bool) {
	n := len(q.Bounds)
	h0, h1 = summary.Ceil(q.Bounds[0], summary.HourMS), summary.Floor(q.Bounds[n-1], summary.HourMS)
	if h0 >= h1 {
		return 0, 0, false
	}
	for _, b := range q.Bounds[1 : n-1] {
		if summary.Floor(b, summary.HourMS) != b {
			return 0, 0, false
		}
	}
	return h0, h1, true
}

// callDims adds the dimensions of table's rows (rollup_calls or
// rollup_hours) that match where, and their MCP calls if mcp is set; it
// counts their calls in calls.
func (s *Store) callDims(ctx context.Context, table, where string, args []any, r *summary.Rollup, mu *sync.Mutex, mcp bool, calls *int64, tail bool) error {
	from, args := s.rollupFrom(table, where, args, tail)
	return s.lockedRows(ctx, mu, `SELECT status, client, collection, community, usage_type, toInt64(sum(calls)) FROM `+from+`
		GROUP BY status, client, collection, community, usage_type HAVING sum(calls) != 0`, args, func(scan func(...any) error) error {
		var status, n int64
		var client, collection, community, utype string
		if err := scan(&status, &client, &collection, &community, &utype, &n); err != nil {
			return err
		}
		if !mcp {
			utype = ""
		}
		r.AddCalls(-1, int(status), client, collection, community, usage.Type(utype), n)
		*calls += n
		return nil
	})
}

// timing adds the timing histogram of table's rows that match where (the
// span of args when where is empty), counting their calls in calls.
func (s *Store) timing(ctx context.Context, table, where string, args []any, r *summary.Rollup, mu *sync.Mutex, calls *int64, tail bool) error {
	if where == "" {
		where = "WHERE workspace_id = ? AND bucket_ms >= ? AND bucket_ms < ?"
	}
	from, args := s.rollupFrom(table, where, args, tail)
	return s.lockedRows(ctx, mu, `SELECT tb, toInt64(sum(calls)) FROM `+from+` GROUP BY tb`, args, func(scan func(...any) error) error {
		var tb, n int64
		if err := scan(&tb, &n); err != nil {
			return err
		}
		r.Timing.Add(int(tb), n)
		*calls += n
		return nil
	})
}

// lockedRows is rows with row called under mu.
func (s *Store) lockedRows(ctx context.Context, mu *sync.Mutex, query string, args []any, row func(scan func(...any) error) error) error {
	return s.rows(ctx, query, args, func(scan func(...any) error) error {
		mu.Lock()
		defer mu.Unlock()
		return row(scan)
	})
}

// rows runs query and calls row for each of its rows.
func (s *Store) rows(ctx context.Context, query string, args []any, row func(scan func(...any) error) error) error {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// RollupViews are the materialized views on inserted events that keep the
// rollups (the ingest benchmark drops them to measure their cost).
var RollupViews = []string{"rollup_incoming_view", "rollup_syncs_view", "rollup_seen_view"}

// waitForBufferFlushes reads every rollup buffer after
// rollup_incoming_buffer, matching no row: it returns once each flush
// under way has ended (flushCount).
var waitForBufferFlushes = func() string {
	var reads []string
	for _, b := range rollupBuffers[1:] {
		reads = append(reads, `SELECT toInt64(count()) AS n FROM `+b+` WHERE workspace_id = -1`)
	}
	return `SELECT sum(n) FROM (` + strings.Join(reads, " UNION ALL ") + `)`
}()

// rollupBuffers hold the views' rows for a few seconds before they reach
// the rollup tables: reads go through them, and so see every insert.
var rollupBuffers = []string{"rollup_incoming_buffer", "rollup_series_buffer", "rollup_hours_buffer", "rollup_calls_buffer",
	"rollup_totals_buffer", "rollup_timing_days_buffer", "rollup_days_buffer", "rollup_values_buffer"}
