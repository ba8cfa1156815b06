package clickhouse

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/usage"
)

// Scans (the exports) read a month at a time, the next month's query
// opened while the current one is read: ClickHouse must merge (FINAL) and
// sort a query's rows before it sends the first, so one query over a year
// keeps the export idle until the server is done, and the server idle
// after. Month by month the two overlap (BenchmarkExportClickHouse). They
// read through clickhouse-go's native interface, not database/sql, which
// boxes every cell into a driver.Value and converts it again on Scan.

// ScanLogs streams every matching api_request, newest first, reading only
// the columns of fields (none: all).
func (s *Store) ScanLogs(ctx context.Context, workspaceID int64, f usage.LogFilter, fields ...string) iter.Seq2[*usage.Event, error] {
	cols, err := eventsql.Projection(eventsql.APIColumns, fields)
	if err != nil {
		return failed(fmt.Errorf("clickhouse: scan logs: %w", err))
	}
	spans, err := s.months(ctx, workspaceID, usage.KindAPIRequest, f.From, f.To, true)
	if err != nil {
		return failed(fmt.Errorf("clickhouse: scan logs: %w", err))
	}
	queries := make([]func(context.Context) (eventsql.Rows, error), len(spans))
	for i, sp := range spans {
		mf := f
		mf.From, mf.To = sp.from, sp.to
		queries[i] = s.query(eventsql.LogsQuery{WorkspaceID: workspaceID, Filter: mf, Cols: cols, Table: table}.SQL())
	}
	return wrap("scan logs", eventsql.Stream(ctx, usage.KindAPIRequest, cols, queries...))
}

// ScanEvents streams a workspace's events of one kind with from <= time <
// to (zero bounds are open), oldest first.
func (s *Store) ScanEvents(ctx context.Context, workspaceID int64, kind usage.Kind, from, to time.Time, fields ...string) iter.Seq2[*usage.Event, error] {
	cols, err := eventsql.Projection(eventsql.KindColumns(kind), fields)
	if err != nil {
		return failed(fmt.Errorf("clickhouse: scan events: %w", err))
	}
	spans, err := s.months(ctx, workspaceID, kind, from, to, false)
	if err != nil {
		return failed(fmt.Errorf("clickhouse: scan events: %w", err))
	}
	queries := make([]func(context.Context) (eventsql.Rows, error), len(spans))
	for i, sp := range spans {
		queries[i] = s.query(eventsql.EventsQuery(table, workspaceID, kind, cols, sp.from, sp.to))
	}
	return wrap("scan events", eventsql.Stream(ctx, kind, cols, queries...))
}

// query is a query for eventsql.Stream on the native interface.
func (s *Store) query(query string, args []any) func(context.Context) (eventsql.Rows, error) {
	return func(ctx context.Context) (eventsql.Rows, error) { return s.conn.Query(ctx, query, args...) }
}

type span struct{ from, to time.Time }

// months splits [from, to) (zero bounds open) into the calendar months (UTC)
// between the first and the last event of kind in it, newest first if desc.
func (s *Store) months(ctx context.Context, workspaceID int64, kind usage.Kind, from, to time.Time, desc bool) ([]span, error) {
	query, args := "SELECT count(), min(time_ms), max(time_ms) FROM events WHERE workspace_id = ? AND kind = ?", []any{workspaceID, eventsql.KindCode(kind)}
	if !from.IsZero() {
		query += " AND time_ms >= ?"
		args = append(args, from.UnixMilli())
	}
	if !to.IsZero() {
		query += " AND time_ms < ?"
		args = append(args, to.UnixMilli())
	}
	var n uint64
	var lo, hi int64
	if err := s.db.QueryRowContext(ctx, query, args...).Scan(&n, &lo, &hi); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	first, last := time.UnixMilli(lo).UTC(), time.UnixMilli(hi).UTC()
	var out []span
	for m := time.Date(first.Year(), first.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(last); m = m.AddDate(0, 1, 0) {
		sp := span{m, m.AddDate(0, 1, 0)}
		if !from.IsZero() && from.After(sp.from) {
			sp.from = from
		}
		if !to.IsZero() && to.Before(sp.to) {
			sp.to = to
		}
		out = append(out, sp)
	}
	if desc {
		slices.Reverse(out)
	}
	return out, nil
}
