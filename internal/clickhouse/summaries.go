package clickhouse

import (
	"context"
	"fmt"
	"strings"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// Rollup sums the workspace's rollups over q's buckets: an unfiltered
// query from rollup_series and rollup_hours (whole hours, and quarter hours
// from rollup_calls at the ends), a filtered one from rollup_calls, each
// read through its buffer (which reads the table too). The materialized
// views fill them as events are inserted.
//
// A read of a buffer picks the table's parts first and takes the buffer's
// rows after: rows the buffer flushes in between are in neither, and that
// query counts short. Every query of a summary counts the same calls, so
// a summary whose queries disagree is read again (rollupReads in all); the
// reads agree once no flush falls inside one, or, while events keep
// arriving, the last read is returned as it is.
func (s *Store) Rollup(ctx context.Context, workspaceID int64, q summary.Query) (*summary.Rollup, error) {
	n := len(q.Bounds)
	if n < 2 || q.Bounds[0] >= q.Bounds[n-1] {
		return summary.NewRollup(n - 1), nil
	}
	for attempt := 1; ; attempt++ {
		r := summary.NewRollup(n - 1)
		var c counts
		var err error
		if q.Filtered() {
			err = s.rollupFiltered(ctx, workspaceID, q, r, &c)
		} else {
			err = s.rollupAll(ctx, workspaceID, q, r, &c)
		}
		if err != nil {
			return nil, fmt.Errorf("clickhouse: rollup: %w", err)
		}
		if c.agree() || attempt == rollupReads {
			return r, nil
		}
	}
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

func (c counts) agree() bool {
	for _, n := range c {
		if *n != *c[0] {
			return false
		}
	}
	return true
}

func (s *Store) rollupAll(ctx context.Context, workspaceID int64, q summary.Query, r *summary.Rollup, c *counts) error {
	lo, hi := q.Bounds[0], q.Bounds[len(q.Bounds)-1]
	span := []any{workspaceID, lo, hi}
	if q.DimsOnly {
		// The series' count alone, to check the dimensions' against.
		calls := c.add()
		err := s.db.QueryRowContext(ctx, `SELECT toInt64(sum(calls)) FROM rollup_series_buffer
			WHERE workspace_id = ? AND bucket_ms >= ? AND bucket_ms < ?`, span...).Scan(calls)
		if err != nil {
			return err
		}
		return s.dimsAll(ctx, workspaceID, lo, hi, r, c)
	}
	calls := c.add()
	err := s.rows(ctx, `SELECT bucket_ms, toInt64(sum(calls)), toInt64(sum(errors)), toInt64(sum(mcp)) FROM rollup_series_buffer
		WHERE workspace_id = ? AND bucket_ms >= ? AND bucket_ms < ? GROUP BY bucket_ms`, span, func(scan func(...any) error) error {
		var bucket, mcp int64
		var t summary.Tally
		if err := scan(&bucket, &t.Calls, &t.Errors, &mcp); err != nil {
			return err
		}
		if i := q.Bucket(bucket); i >= 0 {
			r.Buckets[i].Calls += t.Calls
			r.Buckets[i].Errors += t.Errors
		}
		r.MCP += mcp
		*calls += t.Calls
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.timing(ctx, "rollup_series_buffer", "", span, r, c.add()); err != nil {
		return err
	}
	return s.dimsAll(ctx, workspaceID, lo, hi, r, c)
}

// dimsAll adds the dimensions of every call between lo and hi.
func (s *Store) dimsAll(ctx context.Context, workspaceID, lo, hi int64, r *summary.Rollup, c *counts) error {
	// The dimensions: whole hours from rollup_hours, the quarter hours
	// at the ends from rollup_calls, each in one query.
	var hours, quarters []string
	hourArgs, quarterArgs := []any{workspaceID}, []any{workspaceID}
	for _, p := range summary.Cover(lo, hi) {
		if p.Grain == summary.QuarterMS {
			quarters = append(quarters, "(bucket_ms >= ? AND bucket_ms < ?)")
			quarterArgs = append(quarterArgs, p.From, p.To)
		} else {
			hours = append(hours, "(bucket_ms >= ? AND bucket_ms < ?)")
			hourArgs = append(hourArgs, p.From, p.To)
		}
	}
	// Both queries count toward one total.
	calls := c.add()
	if len(hours) > 0 {
		if err := s.callDims(ctx, "rollup_hours_buffer", "WHERE workspace_id = ? AND ("+strings.Join(hours, " OR ")+")", hourArgs, r, false, calls); err != nil {
			return err
		}
	}
	if len(quarters) > 0 {
		return s.callDims(ctx, "rollup_calls_buffer", "WHERE workspace_id = ? AND ("+strings.Join(quarters, " OR ")+")", quarterArgs, r, false, calls)
	}
	return nil
}

func (s *Store) rollupFiltered(ctx context.Context, workspaceID int64, q summary.Query, r *summary.Rollup, c *counts) error {
	var b strings.Builder
	b.WriteString("WHERE workspace_id = ? AND bucket_ms >= ? AND bucket_ms < ?")
	args := eventsql.FilterSQL(&b, &q.Filter, []any{workspaceID, q.Bounds[0], q.Bounds[len(q.Bounds)-1]})
	where := b.String()
	calls := c.add()
	err := s.rows(ctx, `SELECT bucket_ms, toInt64(sum(calls)), toInt64(sumIf(calls, status >= 400)) FROM rollup_calls_buffer `+where+` GROUP BY bucket_ms`,
		args, func(scan func(...any) error) error {
			var bucket int64
			var t summary.Tally
			if err := scan(&bucket, &t.Calls, &t.Errors); err != nil {
				return err
			}
			if i := q.Bucket(bucket); i >= 0 {
				r.Buckets[i].Calls += t.Calls
				r.Buckets[i].Errors += t.Errors
			}
			*calls += t.Calls
			return nil
		})
	if err != nil {
		return err
	}
	if err := s.timing(ctx, "rollup_calls_buffer", where, args, r, c.add()); err != nil {
		return err
	}
	return s.callDims(ctx, "rollup_calls_buffer", where, args, r, true, c.add())
}

// callDims adds the dimensions of table's rows (rollup_calls or
// rollup_hours) that match where, and their MCP calls if mcp is set; it
// counts their calls in calls.
func (s *Store) callDims(ctx context.Context, table, where string, args []any, r *summary.Rollup, mcp bool, calls *int64) error {
	return s.rows(ctx, `SELECT status, client, collection, community, usage_type, toInt64(sum(calls)) FROM `+table+` `+where+`
		GROUP BY status, client, collection, community, usage_type`, args, func(scan func(...any) error) error {
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
func (s *Store) timing(ctx context.Context, table, where string, args []any, r *summary.Rollup, calls *int64) error {
	if where == "" {
		where = "WHERE workspace_id = ? AND bucket_ms >= ? AND bucket_ms < ?"
	}
	return s.rows(ctx, `SELECT tb, toInt64(sum(calls)) FROM `+table+` `+where+` GROUP BY tb`, args, func(scan func(...any) error) error {
		var tb, n int64
		if err := scan(&tb, &n); err != nil {
			return err
		}
		r.Timing.Add(int(tb), n)
		*calls += n
		return nil
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

// RollupViews are the materialized views that keep the rollups as events
// are inserted (the ingest benchmark drops them to measure their cost).
var RollupViews = []string{"rollup_series_view", "rollup_hours_view", "rollup_calls_view"}

// rollupBuffers hold the views' rows for a few seconds before they reach
// the rollup tables: reads go through them, and so see every insert.
var rollupBuffers = []string{"rollup_series_buffer", "rollup_hours_buffer", "rollup_calls_buffer"}
