package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// histMergeFunc is the SQL function, registered on every connection
// (driver_*.go), that merges two encoded timing histograms.
const histMergeFunc = "usagelog_hist_merge"

var _ summary.Source = (*Store)(nil)

// rollupTable is one rollup table's upsert: its columns, the key columns
// among them, and how the other columns add up.
type rollupTable struct {
	name   string
	cols   []string
	key    int // the first len(key) columns are the key
	update string
}

var (
	seriesTable = rollupTable{name: "rollup_series", key: 2,
		cols:   []string{"workspace_id", "bucket_ms", "calls", "errors", "mcp", "timing"},
		update: "calls = calls + excluded.calls, errors = errors + excluded.errors, mcp = mcp + excluded.mcp, timing = " + histMergeFunc + "(timing, excluded.timing)"}
	dimsTable = rollupTable{name: "rollup_dims", key: 5,
		cols:   []string{"workspace_id", "grain_ms", "bucket_ms", "dim", "value", "calls", "errors"},
		update: "calls = calls + excluded.calls, errors = errors + excluded.errors"}
	callsTable = rollupTable{name: "rollup_calls", key: 8,
		cols:   []string{"workspace_id", "bucket_ms", "status", "client", "collection", "collection_type", "community", "usage_type", "calls", "timing"},
		update: "calls = calls + excluded.calls, timing = " + histMergeFunc + "(timing, excluded.timing)"}
)

// upsertSizes are the row counts of the prepared upserts: full upserts of
// the first, the rest in halves. They are prepared when the store opens:
// the transaction that writes rollups holds the one write connection.
var upsertSizes = []int{128, 64, 32, 16, 8, 4, 2, 1}

// prepareUpserts prepares every rollup table's upserts on db.
func prepareUpserts(ctx context.Context, db interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}) (map[upsertKey]*sql.Stmt, error) {
	out := map[upsertKey]*sql.Stmt{}
	for _, t := range []*rollupTable{&seriesTable, &dimsTable, &callsTable} {
		for _, n := range upsertSizes {
			st, err := db.PrepareContext(ctx, upsertSQL(t, n))
			if err != nil {
				for _, st := range out {
					st.Close()
				}
				return nil, fmt.Errorf("prepare %s: %w", t.name, err)
			}
			out[upsertKey{t.name, n}] = st
		}
	}
	return out, nil
}

func upsertSQL(t *rollupTable, n int) string {
	row := "(" + eventsql.Placeholders(len(t.cols)) + ")"
	q := "INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") VALUES " +
		strings.TrimSuffix(strings.Repeat(row+", ", n), ", ") +
		" ON CONFLICT (" + strings.Join(t.cols[:t.key], ", ") + ") DO UPDATE SET " + t.update
	return q
}

type upsertKey struct {
	table string
	rows  int
}

// writeRollups adds a batch's cells to the rollups, in tx.
func (s *Store) writeRollups(ctx context.Context, tx *sql.Tx, workspaceID int64, b *summary.Batch) error {
	return writeRollups(ctx, tx, s.upserts, workspaceID, b)
}

func writeRollups(ctx context.Context, tx *sql.Tx, upserts map[upsertKey]*sql.Stmt, workspaceID int64, b *summary.Batch) error {
	w := rollupWriter{upserts: upserts, tx: tx, ctx: ctx}
	w.table(&seriesTable)
	for bucket, c := range b.Series {
		w.row(workspaceID, bucket, c.Calls, c.Errors, c.MCP, c.Timing.Encode())
	}
	w.table(&dimsTable)
	for k, c := range b.Dims {
		w.row(workspaceID, k.Grain, k.Bucket, int64(k.Dim), k.Value, c.Calls, c.Errors)
	}
	w.table(&callsTable)
	for k, c := range b.Calls {
		w.row(workspaceID, k.Bucket, int64(k.Status), k.Client, k.Collection, k.CollectionType, k.Community, string(k.UsageType), c.Calls, c.Timing.Encode())
	}
	w.flush()
	return w.err
}

// rollupWriter sends rows to one table at a time in upserts of up to
// rollupRows rows.
type rollupWriter struct {
	upserts map[upsertKey]*sql.Stmt
	tx      *sql.Tx
	ctx     context.Context
	t       *rollupTable
	args    []any
	err     error
}

func (w *rollupWriter) table(t *rollupTable) {
	w.flush()
	w.t = t
}

func (w *rollupWriter) row(vals ...any) {
	w.args = append(w.args, vals...)
	if len(w.args) == upsertSizes[0]*len(w.t.cols) {
		w.flush()
	}
}

// flush sends the rows held in upserts of the prepared sizes.
func (w *rollupWriter) flush() {
	width := 0
	if w.t != nil {
		width = len(w.t.cols)
	}
	for _, n := range upsertSizes {
		for w.err == nil && len(w.args) >= n*width && len(w.args) > 0 {
			st := w.upserts[upsertKey{w.t.name, n}]
			if _, err := w.tx.StmtContext(w.ctx, st).ExecContext(w.ctx, w.args[:n*width]...); err != nil {
				w.err = fmt.Errorf("%s: %w", w.t.name, err)
			}
			w.args = w.args[n*width:]
		}
	}
	w.args = w.args[:0]
}

// rebuildRollups computes the rollups of every stored api_request, in tx:
// a store made before rollups gets them once, when the migration that
// creates their tables runs. It reads the events in pages, so that reads
// and writes on the transaction's connection never interleave.
func rebuildRollups(ctx context.Context, tx *sql.Tx) error {
	upserts, err := prepareUpserts(ctx, tx)
	if err != nil {
		return err
	}
	defer func() {
		for _, st := range upserts {
			st.Close()
		}
	}()
	cols, err := eventsql.Projection(eventsql.APIColumns, []string{"id", "time", "status", "client", "collection", "collection_type", "community", "usage_type", "timing_ms"})
	if err != nil {
		return err
	}
	// The workspaces that hold events, one index seek each.
	var workspaces []int64
	for next := int64(math.MinInt64); ; {
		var ws sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT min(workspace_id) FROM events WHERE workspace_id > ?`, next).Scan(&ws); err != nil {
			return err
		}
		if !ws.Valid {
			break
		}
		workspaces = append(workspaces, ws.Int64)
		next = ws.Int64
	}
	const page = 50_000
	for _, ws := range workspaces {
		var (
			timeMS int64 = math.MinInt64
			id     string
		)
		for {
			query := "SELECT " + eventsql.Names(cols) + ` FROM events
				WHERE workspace_id = ? AND kind = ? AND (time_ms, id) > (?, ?) ORDER BY time_ms, id LIMIT ?`
			events, err := eventsql.Query(ctx, tx, usage.KindAPIRequest, cols, query,
				[]any{ws, eventsql.KindCode(usage.KindAPIRequest), timeMS, id, page})
			if err != nil {
				return err
			}
			b := summary.NewBatch()
			for i := range events {
				b.Add(&events[i])
			}
			if err := writeRollups(ctx, tx, upserts, ws, b); err != nil {
				return err
			}
			if len(events) < page {
				break
			}
			last := events[len(events)-1]
			timeMS, id = last.Time.UnixMilli(), last.ID
		}
	}
	return nil
}

// Rollup sums the workspace's rollups over q's buckets: an unfiltered
// query from the series (quarter hours) and the dimensions (hours and
// days, and quarter hours from rollup_calls at the ends), a filtered one
// from rollup_calls.
func (s *Store) Rollup(ctx context.Context, workspaceID int64, q summary.Query) (*summary.Rollup, error) {
	defer s.timed("rollup", time.Now())
	n := len(q.Bounds)
	r := summary.NewRollup(n - 1)
	if n < 2 || q.Bounds[0] >= q.Bounds[n-1] {
		return r, nil
	}
	lo, hi := q.Bounds[0], q.Bounds[n-1]
	if q.Filtered() {
		if err := s.rollupCalls(ctx, workspaceID, q, lo, hi, r, true); err != nil {
			return nil, fmt.Errorf("sqlite: rollup: %w", err)
		}
		return r, nil
	}
	if err := s.rollupSeries(ctx, workspaceID, q, r); err != nil {
		return nil, fmt.Errorf("sqlite: rollup: %w", err)
	}
	for _, p := range summary.Cover(lo, hi) {
		var err error
		if p.Grain == summary.QuarterMS {
			err = s.rollupCalls(ctx, workspaceID, q, p.From, p.To, r, false)
		} else {
			err = s.rollupDims(ctx, workspaceID, p, r)
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: rollup: %w", err)
		}
	}
	return r, nil
}

func (s *Store) rollupSeries(ctx context.Context, workspaceID int64, q summary.Query, r *summary.Rollup) error {
	rows, err := s.read.QueryContext(ctx, `SELECT bucket_ms, calls, errors, mcp, timing FROM rollup_series
		WHERE workspace_id = ? AND bucket_ms >= ? AND bucket_ms < ?`, workspaceID, q.Bounds[0], q.Bounds[len(q.Bounds)-1])
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		bucket, mcp int64
		t           summary.Tally
		timing      sql.RawBytes
	)
	for rows.Next() {
		if err := rows.Scan(&bucket, &t.Calls, &t.Errors, &mcp, &timing); err != nil {
			return err
		}
		if i := q.Bucket(bucket); i >= 0 {
			r.Buckets[i].Calls += t.Calls
			r.Buckets[i].Errors += t.Errors
		}
		r.MCP += mcp
		if err := r.Timing.Decode(timing); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (s *Store) rollupDims(ctx context.Context, workspaceID int64, p summary.Piece, r *summary.Rollup) error {
	rows, err := s.read.QueryContext(ctx, `SELECT dim, value, sum(calls), sum(errors) FROM rollup_dims
		WHERE workspace_id = ? AND grain_ms = ? AND bucket_ms >= ? AND bucket_ms < ? GROUP BY dim, value`,
		workspaceID, p.Grain, p.From, p.To)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		dim   int
		value string
		t     summary.Tally
	)
	for rows.Next() {
		if err := rows.Scan(&dim, &value, &t.Calls, &t.Errors); err != nil {
			return err
		}
		r.AddDim(summary.Dim(dim), value, t)
	}
	return rows.Err()
}

// rollupCalls adds rollup_calls between from and to, with q's filter: into
// q's buckets, MCP calls and timings when all is set, else only into the
// dimensions.
func (s *Store) rollupCalls(ctx context.Context, workspaceID int64, q summary.Query, from, to int64, r *summary.Rollup, all bool) error {
	var where strings.Builder
	args := eventsql.FilterSQL(&where, &q.Filter, []any{workspaceID, from, to})
	timing := "x''"
	if all {
		timing = "timing"
	}
	query := `SELECT bucket_ms, status, client, collection, community, usage_type, calls, ` + timing + ` FROM rollup_calls
		WHERE workspace_id = ? AND bucket_ms >= ? AND bucket_ms < ?` + where.String()
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		bucket, calls                        int64
		status                               int
		client, collection, community, utype string
		hist                                 sql.RawBytes
	)
	for rows.Next() {
		if err := rows.Scan(&bucket, &status, &client, &collection, &community, &utype, &calls, &hist); err != nil {
			return err
		}
		if !all {
			t := summary.Tally{Calls: calls}
			if status >= 400 {
				t.Errors = calls
			}
			r.AddStatus(status, t)
			r.AddDim(summary.DimClient, client, t)
			r.AddDim(summary.DimCollection, collection, t)
			r.AddDim(summary.DimCommunity, community, t)
			continue
		}
		r.AddCalls(q.Bucket(bucket), status, client, collection, community, usage.UsageType(utype), calls)
		if err := r.Timing.Decode(hist); err != nil {
			return err
		}
	}
	return rows.Err()
}
