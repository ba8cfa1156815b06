package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/usage"
)

// rowsPerInsert is how many rows one INSERT statement carries. Fewer,
// larger statements cut the per-statement cost that dominates batched
// inserts (BenchmarkAppend); 50 rows of the widest kind stay far below
// SQLite's limit of 32,766 parameters.
const rowsPerInsert = 50

// insertSizes are the row counts of the prepared INSERTs of a kind: full
// statements, the rest in powers of two. Every one is prepared before an
// append's transaction takes the single write connection.
var insertSizes = []int{rowsPerInsert, 32, 16, 8, 4, 2, 1}

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
	cols := eventsql.KindColumns(k)
	names := make([]string, 0, len(cols)+2)
	names = append(names, "workspace_id", "kind")
	for _, c := range cols {
		names = append(names, c.Name)
	}
	row := "(" + eventsql.Placeholders(len(names)) + ")"
	q := "INSERT OR IGNORE INTO " + arrivalsTable + " (" + strings.Join(names, ", ") + ") VALUES " +
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

// dupProbe is how many ids one lookup of merged events takes.
const dupProbe = 500

// Append appends events to the arrivals in one transaction, and does
// nothing else: the merge moves them into events and the rollups later.
// Ids the workspace already has, merged or waiting, or earlier in this
// batch, are counted as duplicates.
func (s *Store) Append(ctx context.Context, workspaceID int64, events []usage.Event) (usage.AppendResult, error) {
	defer s.timed("append", time.Now())
	var res usage.AppendResult
	if len(events) == 0 {
		return res, nil
	}
	s.appending.Add(1)
	defer s.appending.Add(-1)
	// Of two events of the batch with one id, the first sent is kept,
	// whatever their kinds: the sort below groups kinds.
	seen := make(map[string]struct{}, len(events))
	sorted := make([]*usage.Event, 0, len(events))
	for i := range events {
		if _, dup := seen[events[i].ID]; dup {
			res.Duplicates++
			continue
		}
		seen[events[i].ID] = struct{}{}
		sorted = append(sorted, &events[i])
	}
	// In id order the lookups of merged ids walk their index forwards;
	// kinds then group, for statements of one kind.
	slices.SortFunc(sorted, func(a, b *usage.Event) int { return strings.Compare(a.ID, b.ID) })
	stmts := map[insertKey]*sql.Stmt{}
	for _, e := range sorted {
		if _, ok := stmts[insertKey{e.Kind, 1}]; ok {
			continue
		}
		for _, n := range insertSizes {
			st, err := s.insertStmt(ctx, e.Kind, n)
			if err != nil {
				return res, fmt.Errorf("sqlite: append: %w", err)
			}
			stmts[insertKey{e.Kind, n}] = st
		}
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("sqlite: append: %w", err)
	}
	defer tx.Rollback()
	merged, err := mergedIDs(ctx, tx, workspaceID, sorted)
	if err != nil {
		return res, fmt.Errorf("sqlite: append: %w", err)
	}
	if len(merged) > 0 {
		kept := sorted[:0]
		for _, e := range sorted {
			if _, dup := merged[e.ID]; !dup {
				kept = append(kept, e)
			}
		}
		res.Duplicates += len(sorted) - len(kept)
		sorted = kept
	}
	slices.SortStableFunc(sorted, func(a, b *usage.Event) int { return strings.Compare(string(a.Kind), string(b.Kind)) })
	args := make([]any, 0, rowsPerInsert*64)
	for i := 0; i < len(sorted); {
		k := sorted[i].Kind
		cols := eventsql.KindColumns(k)
		j := i + 1
		for j < len(sorted) && sorted[j].Kind == k {
			j++
		}
		for from := i; from < j; {
			size := 0
			for _, size = range insertSizes {
				if size <= j-from {
					break
				}
			}
			to := from + size
			st := stmts[insertKey{k, size}]
			args = args[:0]
			for _, e := range sorted[from:to] {
				args = append(args, workspaceID, eventsql.KindCode(k))
				for _, c := range cols {
					args = append(args, eventsql.InsertValue(c.Ptr(e)))
				}
			}
			r, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...)
			if err != nil {
				return usage.AppendResult{}, fmt.Errorf("sqlite: append: %w", err)
			}
			n, _ := r.RowsAffected()
			res.Inserted += int(n)
			res.Duplicates += to - from - int(n)
			from = to
		}
		i = j
	}
	if err := tx.Commit(); err != nil {
		return usage.AppendResult{}, fmt.Errorf("sqlite: append: %w", err)
	}
	if res.Inserted > 0 {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return res, nil
}

// mergedIDs returns which of the events' ids (sorted) the workspace's
// merged events hold.
func mergedIDs(ctx context.Context, tx *sql.Tx, workspaceID int64, sorted []*usage.Event) (map[string]struct{}, error) {
	var out map[string]struct{}
	args := make([]any, 0, dupProbe+1)
	for chunk := range slices.Chunk(sorted, dupProbe) {
		args = append(args[:0], workspaceID)
		for _, e := range chunk {
			args = append(args, e.ID)
		}
		// Erased events' ids count as stored (erase.go): a client's retry
		// does not bring the person back.
		ids := numbered(2, len(chunk))
		rows, err := tx.QueryContext(ctx, `SELECT id FROM `+eventsTable+` WHERE workspace_id = ?1 AND id IN (`+ids+`)
			UNION ALL SELECT id FROM erased_events WHERE workspace_id = ?1 AND id IN (`+ids+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			if out == nil {
				out = map[string]struct{}{}
			}
			out[id] = struct{}{}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// numbered is n numbered placeholders from ?from: a statement that
// names the same list twice binds it once.
func numbered(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("?" + strconv.Itoa(from+i))
	}
	return b.String()
}

// Logs returns one page of api_request events, newest first.
func (s *Store) Logs(ctx context.Context, workspaceID int64, q usage.LogQuery) ([]usage.Event, error) {
	defer s.timed("logs", time.Now())
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	query, args := eventsql.LogsQuery{WorkspaceID: workspaceID, Filter: q.LogFilter, After: q.After, Limit: limit, Table: s.stored}.SQL()
	out, err := eventsql.Query(ctx, s.read, usage.KindAPIRequest, eventsql.APIColumns, query, args)
	if err != nil {
		return nil, fmt.Errorf("sqlite: logs: %w", err)
	}
	return out, nil
}

// ScanLogs streams every matching api_request, newest first. fields
// names the event fields the caller reads (none: all); only those columns
// are read, which is most of a scan's cost. The yielded event is reused:
// copy it to keep it.
func (s *Store) ScanLogs(ctx context.Context, workspaceID int64, f usage.LogFilter, fields ...string) iter.Seq2[*usage.Event, error] {
	cols, err := eventsql.Projection(eventsql.APIColumns, fields)
	if err != nil {
		return func(yield func(*usage.Event, error) bool) { yield(nil, fmt.Errorf("sqlite: scan logs: %w", err)) }
	}
	return s.stream(ctx, "scan_logs", usage.KindAPIRequest, cols, func() ([]func(context.Context) (eventsql.Rows, error), error) {
		windows, err := s.logWindows(ctx, workspaceID, f)
		if err != nil {
			return nil, err
		}
		queries := make([]func(context.Context) (eventsql.Rows, error), len(windows))
		for i, w := range windows {
			query, args := eventsql.LogsQuery{WorkspaceID: workspaceID, Filter: w, Cols: cols, Table: s.stored}.SQL()
			queries[i] = eventsql.SQLRows(s.read, query, args)
		}
		return queries, nil
	})
}

// ScanEvents streams a workspace's events of one kind with from <= time <
// to (zero bounds are open), oldest first, reading only fields (none:
// all). The yielded event is reused: copy it to keep it.
func (s *Store) ScanEvents(ctx context.Context, workspaceID int64, kind usage.Kind, from, to time.Time, fields ...string) iter.Seq2[*usage.Event, error] {
	cols, err := eventsql.Projection(eventsql.KindColumns(kind), fields)
	if err != nil {
		return func(yield func(*usage.Event, error) bool) { yield(nil, fmt.Errorf("sqlite: scan events: %w", err)) }
	}
	query, args := eventsql.EventsQuery(s.stored, workspaceID, kind, cols, from, to)
	return s.stream(ctx, "scan_events", kind, cols, func() ([]func(context.Context) (eventsql.Rows, error), error) {
		return []func(context.Context) (eventsql.Rows, error){eventsql.SQLRows(s.read, query, args)}, nil
	})
}

// stream is eventsql.StreamOrdered of the queries that plan returns,
// timed and with this store's errors.
func (s *Store) stream(ctx context.Context, op string, kind usage.Kind, cols []eventsql.Column, plan func() ([]func(context.Context) (eventsql.Rows, error), error)) iter.Seq2[*usage.Event, error] {
	return func(yield func(*usage.Event, error) bool) {
		defer s.timed(op, time.Now())
		wrap := func(err error) error {
			return fmt.Errorf("sqlite: %s: %w", strings.ReplaceAll(op, "_", " "), err)
		}
		queries, err := plan()
		if err != nil {
			yield(nil, wrap(err))
			return
		}
		for e, err := range eventsql.StreamOrdered(ctx, kind, cols, s.scanWorkers, queries...) {
			if err != nil {
				err = wrap(err)
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

// Count returns how many events of a kind the workspace holds.
func (s *Store) Count(ctx context.Context, workspaceID int64, kind usage.Kind) (int64, error) {
	defer s.timed("count", time.Now())
	var n int64
	err := s.read.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM `+eventsTable+` WHERE workspace_id = ?1 AND kind = ?2)
		+ (SELECT count(*) FROM `+arrivalsTable+` WHERE workspace_id = ?1 AND kind = ?2)`, workspaceID, eventsql.KindCode(kind)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count: %w", err)
	}
	return n, nil
}
