package clickhouse

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"time"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/usage"
)

// Scans (the exports) read an hour or more at a time, the next piece's
// query opened while the current one is read: ClickHouse must merge
// (FINAL) and sort a query's rows before it sends the first, so one query
// over a year keeps the export idle until the server is done, and the
// server idle after. Piece by piece the two overlap
// (BenchmarkExportClickHouse). Scans read through native.go, not
// clickhouse-go.

// ScanLogs streams every matching api_request, newest first, reading only
// the columns of fields (none: all).
func (s *Store) ScanLogs(ctx context.Context, workspaceID int64, f usage.LogFilter, fields ...string) iter.Seq2[*usage.Event, error] {
	cols, err := eventsql.Projection(eventsql.APIColumns, fields)
	if err != nil {
		return failed(fmt.Errorf("clickhouse: scan logs: %w", err))
	}
	return wrap("scan logs", s.inPieces(ctx, usage.KindAPIRequest, cols, workspaceID, f.From, f.To, true, func(table string, cols []eventsql.Column, from, to time.Time) (string, []any) {
		pf := f
		pf.From, pf.To = from, to
		return eventsql.LogsQuery{WorkspaceID: workspaceID, Filter: pf, Cols: cols, Table: table}.SQL()
	}))
}

// ScanEvents streams a workspace's events of one kind with from <= time <
// to (zero bounds are open), oldest first.
func (s *Store) ScanEvents(ctx context.Context, workspaceID int64, kind usage.Kind, from, to time.Time, fields ...string) iter.Seq2[*usage.Event, error] {
	cols, err := eventsql.Projection(eventsql.KindColumns(kind), fields)
	if err != nil {
		return failed(fmt.Errorf("clickhouse: scan events: %w", err))
	}
	return wrap("scan events", s.inPieces(ctx, kind, cols, workspaceID, from, to, false, func(table string, cols []eventsql.Column, from, to time.Time) (string, []any) {
		return eventsql.EventsQuery(table, workspaceID, kind, cols, from, to)
	}))
}

// inPieces streams the rows of the query that sql makes, of table and
// cols, for each piece of [from, to), newest piece first if desc (and
// then the query sorts by time descending).
func (s *Store) inPieces(ctx context.Context, kind usage.Kind, cols []eventsql.Column, workspaceID int64, from, to time.Time, desc bool, sql func(table string, cols []eventsql.Column, from, to time.Time) (string, []any)) iter.Seq2[*usage.Event, error] {
	return func(yield func(*usage.Event, error) bool) {
		spans, err := s.pieces(ctx, workspaceID, kind, from, to, desc)
		if err != nil {
			yield(nil, err)
			return
		}
		queries := make([]func(context.Context) (eventsql.Rows, error), len(spans))
		for i, sp := range spans {
			if s.cluster != nil && !s.scanDriver {
				queries[i] = s.shardQuery(func(table string, cols []eventsql.Column) (string, []any) {
					return sql(table, cols, sp.from, sp.to)
				}, kind, cols, desc)
				continue
			}
			queries[i] = s.query(sql(table, cols, sp.from, sp.to))
		}
		for e, err := range eventsql.Stream(ctx, kind, cols, queries...) {
			if !yield(e, err) {
				return
			}
		}
	}
}

// query is a query for eventsql.Stream on a connection of its own
// (native.go), or through clickhouse-go with ?scan=driver.
func (s *Store) query(query string, args []any) func(context.Context) (eventsql.Rows, error) {
	if s.scanDriver {
		return eventsql.SQLRows(s.db, query+" SETTINGS max_block_size = "+strconv.Itoa(scanBlockRows), args)
	}
	return func(ctx context.Context) (eventsql.Rows, error) {
		q, err := s.nativeScanSQL(query, args)
		if err != nil {
			return nil, err
		}
		rows, err := queryNative(ctx, s.native, q)
		if err != nil {
			return nil, err
		}
		return rows, nil
	}
}

// nativeScanSQL is query with args written in, and the settings of a scan
// on a connection of its own: small blocks keep a big export's memory
// small, and the block being read in the processor's cache.
func (s *Store) nativeScanSQL(query string, args []any) (string, error) {
	q, err := bind(query, args)
	if err != nil {
		return "", err
	}
	return q + " SETTINGS max_block_size = " + strconv.Itoa(scanBlockRows) + s.scanSettings(), nil
}

// scanSettings are the settings a scan on its own connection adds to
// max_block_size: on a cluster, the replicas the store's other queries
// read (cluster.go).
func (s *Store) scanSettings() string {
	if s.cluster == nil {
		return ""
	}
	return ", load_balancing = 'in_order'"
}

// scanBlockRows is the block size of scans, a sixteenth of ClickHouse's
// default.
const scanBlockRows = 4096

type span struct{ from, to time.Time }

// Scans go in pieces of whole hours, merged until a piece holds at least
// chunkRows events: an hour at a time for a workspace of millions of calls
// a day, whose day would otherwise be sorted whole before its first row
// went out, and few queries for a sparse one, however far apart its events
// lie (1970 to 9999).
const (
	window    = time.Hour
	chunkRows = 50_000
)

// pieces splits [from, to) (zero bounds open) into pieces that hold events
// of kind, newest first if desc.
func (s *Store) pieces(ctx context.Context, workspaceID int64, kind usage.Kind, from, to time.Time, desc bool) ([]span, error) {
	// An hour or less (a summary's ends) is one query, without a count
	// first: no merge to overlap, and a round trip saved.
	if !from.IsZero() && !to.IsZero() && to.Sub(from) <= time.Hour {
		if !from.Before(to) {
			return nil, nil
		}
		return []span{{from, to}}, nil
	}
	w := window.Milliseconds()
	where, args := eventsql.KindRange(workspaceID, kind, from, to)
	query := "SELECT intDiv(time_ms, " + strconv.FormatInt(w, 10) + ") AS w, count() FROM events" + where + " GROUP BY w ORDER BY w"
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []span
	var start, acc int64 = -1, 0
	var last int64
	for rows.Next() {
		var n uint64
		if err := rows.Scan(&last, &n); err != nil {
			return nil, err
		}
		if start < 0 {
			start = last
		}
		if acc += int64(n); acc >= s.chunkRows {
			out = append(out, span{time.UnixMilli(start * w).UTC(), time.UnixMilli((last + 1) * w).UTC()})
			start, acc = -1, 0
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if start >= 0 {
		out = append(out, span{time.UnixMilli(start * w).UTC(), time.UnixMilli((last + 1) * w).UTC()})
	}
	if len(out) > 0 {
		if !from.IsZero() && from.After(out[0].from) {
			out[0].from = from
		}
		if end := &out[len(out)-1]; !to.IsZero() && to.Before(end.to) {
			end.to = to
		}
	}
	if desc {
		slices.Reverse(out)
	}
	return out, nil
}
