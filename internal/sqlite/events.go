package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// rowsPerInsert is how many rows one INSERT statement carries. Fewer,
// larger statements cut the per-statement cost that dominates batched
// inserts (BenchmarkAppend); 50 rows of the widest kind stay far below
// SQLite's limit of 32,766 parameters.
const rowsPerInsert = 50

// insertStmt returns the prepared INSERT of n rows of a kind. Statements
// are prepared once on the single write connection and reused by every
// transaction: preparing a 50-row INSERT costs as much as running it.
func (s *Store) insertStmt(ctx context.Context, k usage.Kind, n int) (*sql.Stmt, error) {
	s.insertMu.Lock()
	defer s.insertMu.Unlock()
	key := insertKey{k, n}
	if st, ok := s.inserts[key]; ok {
		return st, nil
	}
	cols := kindColumns(k)
	names := make([]string, 0, len(cols)+2)
	names = append(names, "workspace_id", "kind")
	for _, c := range cols {
		names = append(names, c.name)
	}
	row := "(" + placeholders(len(names)) + ")"
	q := "INSERT OR IGNORE INTO events (" + strings.Join(names, ", ") + ") VALUES " +
		strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
	st, err := s.write.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	s.inserts[key] = st
	return st, nil
}

type insertKey struct {
	kind usage.Kind
	rows int
}

// Append stores events in one transaction. Ids the workspace already has,
// from earlier batches or earlier in this one, are counted as duplicates.
func (s *Store) Append(ctx context.Context, workspaceID int64, events []usage.Event) (usage.AppendResult, error) {
	defer s.timed("append", time.Now())
	var res usage.AppendResult
	if len(events) == 0 {
		return res, nil
	}
	// Inserting in (kind, id) order keeps runs of one kind long and lets the
	// (workspace, id) index take its inserts in order, which touches fewer
	// pages. The sort is stable, so of two events with one id the first
	// sent is the one kept.
	sorted := make([]*usage.Event, len(events))
	for i := range events {
		sorted[i] = &events[i]
	}
	slices.SortStableFunc(sorted, func(a, b *usage.Event) int {
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	// Runs of one kind go out in statements of up to rowsPerInsert rows.
	// The statements are prepared before the transaction takes the single
	// write connection.
	type run struct {
		from, to int
		stmt     *sql.Stmt
	}
	var runs []run
	for i := 0; i < len(sorted); {
		k := sorted[i].Kind
		j := i + 1
		for j < len(sorted) && j-i < rowsPerInsert && sorted[j].Kind == k {
			j++
		}
		st, err := s.insertStmt(ctx, k, j-i)
		if err != nil {
			return res, fmt.Errorf("sqlite: append: %w", err)
		}
		runs = append(runs, run{i, j, st})
		i = j
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("sqlite: append: %w", err)
	}
	defer tx.Rollback()
	args := make([]any, 0, rowsPerInsert*64)
	for _, r := range runs {
		k := sorted[r.from].Kind
		cols := kindColumns(k)
		args = args[:0]
		for n := r.from; n < r.to; n++ {
			e := sorted[n]
			args = append(args, workspaceID, kindCodes[k])
			for _, c := range cols {
				args = append(args, insertValue(c.ptr(e)))
			}
		}
		result, err := tx.StmtContext(ctx, r.stmt).ExecContext(ctx, args...)
		if err != nil {
			return usage.AppendResult{}, fmt.Errorf("sqlite: append: %w", err)
		}
		n, _ := result.RowsAffected()
		res.Inserted += int(n)
		res.Duplicates += r.to - r.from - int(n)
	}
	if err := tx.Commit(); err != nil {
		return usage.AppendResult{}, fmt.Errorf("sqlite: append: %w", err)
	}
	return res, nil
}

// apiColumns is the select list of api_request rows.
var apiColumns = kindColumns(usage.KindAPIRequest)

var apiSelect = func() string {
	names := make([]string, len(apiColumns))
	for i, c := range apiColumns {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}()

// logsQuery builds the SQL of a logs page or scan.
type logsQuery struct {
	workspaceID int64
	filter      usage.LogFilter
	after       *usage.Cursor
	limit       int // 0: no limit
	count       bool
	cols        []column // nil: every api_request column
}

func (q logsQuery) toSQL() (string, []any) {
	var b strings.Builder
	args := []any{q.workspaceID, kindCodes[usage.KindAPIRequest]}
	switch {
	case q.count:
		b.WriteString("SELECT count(*)")
	case q.cols != nil:
		names := make([]string, len(q.cols))
		for i, c := range q.cols {
			names[i] = c.name
		}
		b.WriteString("SELECT " + strings.Join(names, ", "))
	default:
		b.WriteString("SELECT " + apiSelect)
	}
	b.WriteString(" FROM events WHERE workspace_id = ? AND kind = ?")
	f := q.filter
	if !f.From.IsZero() {
		b.WriteString(" AND time_ms >= ?")
		args = append(args, f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		b.WriteString(" AND time_ms < ?")
		args = append(args, f.To.UnixMilli())
	}
	if len(f.Statuses) > 0 || len(f.StatusClasses) > 0 {
		var ors []string
		if len(f.Statuses) > 0 {
			ors = append(ors, "status IN ("+placeholders(len(f.Statuses))+")")
			for _, st := range f.Statuses {
				args = append(args, st)
			}
		}
		for _, c := range f.StatusClasses {
			ors = append(ors, "(status >= ? AND status < ?)")
			args = append(args, c*100, c*100+100)
		}
		b.WriteString(" AND (" + strings.Join(ors, " OR ") + ")")
	}
	args = in(&b, "client", f.Clients, args)
	args = in(&b, "collection", f.Collections, args)
	args = in(&b, "community", f.Communities, args)
	if f.CollectionType != "" {
		b.WriteString(" AND collection_type = ?")
		args = append(args, f.CollectionType)
	}
	if f.UsageType != "" {
		b.WriteString(" AND usage_type = ?")
		args = append(args, string(f.UsageType))
	}
	if q.after != nil {
		b.WriteString(" AND (time_ms < ? OR (time_ms = ? AND id < ?))")
		args = append(args, q.after.TimeMS, q.after.TimeMS, q.after.ID)
	}
	if q.count {
		return b.String(), args
	}
	b.WriteString(" ORDER BY time_ms DESC, id DESC")
	if q.limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, q.limit)
	}
	return b.String(), args
}

func in(b *strings.Builder, col string, vals []string, args []any) []any {
	if len(vals) == 0 {
		return args
	}
	b.WriteString(" AND " + col + " IN (" + placeholders(len(vals)) + ")")
	for _, v := range vals {
		args = append(args, v)
	}
	return args
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// Logs returns one page of api_request events, newest first.
func (s *Store) Logs(ctx context.Context, workspaceID int64, q usage.LogQuery) ([]usage.Event, error) {
	defer s.timed("logs", time.Now())
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	query, args := logsQuery{workspaceID: workspaceID, filter: q.LogFilter, after: q.After, limit: limit}.toSQL()
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: logs: %w", err)
	}
	defer rows.Close()
	out := make([]usage.Event, 0, limit)
	dest := make([]any, len(apiColumns))
	for rows.Next() {
		out = append(out, usage.Event{Kind: usage.KindAPIRequest})
		e := &out[len(out)-1]
		for i, c := range apiColumns {
			dest[i] = c.ptr(e)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sqlite: logs: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: logs: %w", err)
	}
	return out, nil
}

// scanBatch is how many rows the scanning goroutine hands over at a time;
// scanBatches bounds how many are in flight.
const (
	scanBatch   = 512
	scanBatches = 3
)

// ScanLogs streams every matching api_request, newest first. fields
// names the event fields the caller reads (none: all); only those columns
// are read, which is most of a scan's cost. A goroutine decodes rows
// while the caller consumes the previous batch: on two cores an export
// runs at the pace of the slower half instead of their sum. The yielded
// event is reused: copy it to keep it.
func (s *Store) ScanLogs(ctx context.Context, workspaceID int64, f usage.LogFilter, fields ...string) iter.Seq2[*usage.Event, error] {
	cols, err := projection(apiColumns, fields)
	if err != nil {
		return func(yield func(*usage.Event, error) bool) { yield(nil, fmt.Errorf("sqlite: scan logs: %w", err)) }
	}
	query, args := logsQuery{workspaceID: workspaceID, filter: f, cols: cols}.toSQL()
	return s.stream(ctx, "scan_logs", usage.KindAPIRequest, cols, query, args)
}

// ScanEvents streams a workspace's events of one kind with from <= time <
// to (zero bounds are open), oldest first, reading only fields (none:
// all). The yielded event is reused: copy it to keep it.
func (s *Store) ScanEvents(ctx context.Context, workspaceID int64, kind usage.Kind, from, to time.Time, fields ...string) iter.Seq2[*usage.Event, error] {
	cols, err := projection(kindColumns(kind), fields)
	if err != nil {
		return func(yield func(*usage.Event, error) bool) { yield(nil, fmt.Errorf("sqlite: scan events: %w", err)) }
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	query := "SELECT " + strings.Join(names, ", ") + " FROM events WHERE workspace_id = ? AND kind = ?"
	args := []any{workspaceID, kindCodes[kind]}
	if !from.IsZero() {
		query += " AND time_ms >= ?"
		args = append(args, from.UnixMilli())
	}
	if !to.IsZero() {
		query += " AND time_ms < ?"
		args = append(args, to.UnixMilli())
	}
	query += " ORDER BY time_ms, id"
	return s.stream(ctx, "scan_events", kind, cols, query, args)
}

// stream runs query in a goroutine that decodes rows into batches while the
// caller consumes the previous one: on two cores an export runs at the
// pace of the slower half instead of their sum.
func (s *Store) stream(ctx context.Context, op string, kind usage.Kind, cols []column, query string, args []any) iter.Seq2[*usage.Event, error] {
	return func(yield func(*usage.Event, error) bool) {
		defer s.timed(op, time.Now())
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		free := make(chan []usage.Event, scanBatches)
		for range scanBatches {
			free <- make([]usage.Event, 0, scanBatch)
		}
		full := make(chan []usage.Event)
		errc := make(chan error, 1)
		go func() {
			defer close(full)
			errc <- s.scanRows(ctx, kind, cols, query, args, free, full)
		}()
		stopped := false
		for batch := range full {
			for i := range batch {
				if !stopped && !yield(&batch[i], nil) {
					stopped = true
					cancel()
				}
			}
			free <- batch[:0]
		}
		if err := <-errc; err != nil && !stopped {
			yield(nil, fmt.Errorf("sqlite: %s: %w", strings.ReplaceAll(op, "_", " "), err))
		}
	}
}

// scanRows runs the query and fills batches taken from free into full.
func (s *Store) scanRows(ctx context.Context, kind usage.Kind, cols []column, query string, args []any, free <-chan []usage.Event, full chan<- []usage.Event) error {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	dest := make([]any, len(cols))
	var batch []usage.Event
	for rows.Next() {
		if batch == nil {
			select {
			case batch = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		batch = append(batch, usage.Event{Kind: kind})
		e := &batch[len(batch)-1]
		for i, c := range cols {
			dest[i] = c.ptr(e)
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if len(batch) == cap(batch) {
			select {
			case full <- batch:
				batch = nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		select {
		case full <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// projection returns the columns of all holding the named event fields
// (all when none are named).
func projection(all []column, fields []string) ([]column, error) {
	if len(fields) == 0 {
		return all, nil
	}
	var out []column
	for _, name := range fields {
		if name == "time" {
			name = "time_ms"
		}
		i := slices.IndexFunc(all, func(c column) bool { return c.name == name })
		if i < 0 {
			return nil, fmt.Errorf("no such event field %q", name)
		}
		if !slices.ContainsFunc(out, func(c column) bool { return c.name == name }) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// CountLogs returns how many api_request events match f.
func (s *Store) CountLogs(ctx context.Context, workspaceID int64, f usage.LogFilter) (int64, error) {
	defer s.timed("count_logs", time.Now())
	query, args := logsQuery{workspaceID: workspaceID, filter: f, count: true}.toSQL()
	var n int64
	if err := s.read.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count logs: %w", err)
	}
	return n, nil
}

// Count returns how many events of a kind the workspace holds.
func (s *Store) Count(ctx context.Context, workspaceID int64, kind usage.Kind) (int64, error) {
	defer s.timed("count", time.Now())
	var n int64
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE workspace_id = ? AND kind = ?`, workspaceID, kindCodes[kind]).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count: %w", err)
	}
	return n, nil
}
