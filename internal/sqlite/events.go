package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"slices"
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
	// Inserting in (kind, id) order keeps runs of one kind long and lets the
	// (workspace, id) index take its inserts in order, which touches fewer
	// pages.
	slices.SortStableFunc(sorted, func(a, b *usage.Event) int {
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	// The events of one kind (kinds, spans of sorted) go out in runs,
	// statements of up to rowsPerInsert rows. The statements are prepared
	// before the transaction takes the single write connection.
	type run struct {
		from, to int
		stmt     *sql.Stmt
	}
	var (
		kinds [][2]int
		runs  []run
	)
	for i := 0; i < len(sorted); {
		k := sorted[i].Kind
		j := i + 1
		for j < len(sorted) && sorted[j].Kind == k {
			j++
		}
		kinds = append(kinds, [2]int{i, j})
		for from := i; from < j; from += rowsPerInsert {
			to := min(from+rowsPerInsert, j)
			st, err := s.insertStmt(ctx, k, to-from)
			if err != nil {
				return res, fmt.Errorf("sqlite: append: %w", err)
			}
			runs = append(runs, run{from, to, st})
		}
		i = j
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("sqlite: append: %w", err)
	}
	defer tx.Rollback()
	args := make([]any, 0, rowsPerInsert*64)
	var calls, syncs []*usage.Event
	// Which events a statement inserted, rather than ignored as
	// duplicates, decides what goes into the rollups. SQLite gives a new
	// row the rowid after the largest, and this connection is the only
	// writer, so a statement's rows are those above the largest rowid
	// before it: looked up only when it ignored some.
	state, lastRowID, err := readTailBounds(ctx, tx)
	if err != nil {
		return res, fmt.Errorf("sqlite: append: %w", err)
	}
	firstRowID := lastRowID
	// Appends take turns on the one write connection; pending changes
	// with the transaction's commit, before the next one reads it.
	s.pending.mu.Lock()
	defer s.pending.mu.Unlock()
	for _, k := range kinds {
		if err := countDisordered(ctx, tx, workspaceID, sorted[k[0]].Kind, sorted[k[0]:k[1]]); err != nil {
			return res, fmt.Errorf("sqlite: append: %w", err)
		}
	}
	for _, r := range runs {
		k := sorted[r.from].Kind
		cols := eventsql.KindColumns(k)
		args = args[:0]
		for n := r.from; n < r.to; n++ {
			e := sorted[n]
			args = append(args, workspaceID, eventsql.KindCode(k))
			for _, c := range cols {
				args = append(args, eventsql.InsertValue(c.Ptr(e)))
			}
		}
		result, err := tx.StmtContext(ctx, r.stmt).ExecContext(ctx, args...)
		var n int
		var inserted []*usage.Event
		if err == nil {
			n64, _ := result.RowsAffected()
			n = int(n64)
			inserted, err = insertedBy(ctx, tx, sorted[r.from:r.to], n, lastRowID)
		}
		if err == nil && n > 0 {
			lastRowID, err = result.LastInsertId()
		}
		if err != nil {
			return usage.AppendResult{}, fmt.Errorf("sqlite: append: %w", err)
		}
		switch k {
		case usage.KindAPIRequest:
			calls = append(calls, inserted...)
		case usage.KindSync:
			syncs = append(syncs, inserted...)
		}
		res.Inserted += n
		res.Duplicates += r.to - r.from - n
	}
	// The batch's calls join the tail; the batch that makes it long
	// enough adds it to the rollups.
	p := &s.pending
	rows := tailRows(workspaceID, calls)
	own := p.holds(state, firstRowID)
	fold := lastRowID-state.rolledTo >= s.rollupBatch
	err = syncRollups(ctx, tx, workspaceID, syncs)
	if err == nil && fold {
		var tail []tailRow // read back unless this store appended it all
		if own {
			tail = append(p.tailRows(), rows...)
		} else if firstRowID == state.rolledTo {
			tail = rows
		}
		err = s.fold(ctx, tx, state, lastRowID, tail)
	}
	if err != nil {
		s.settleCombos(false)
		return usage.AppendResult{}, fmt.Errorf("sqlite: append: %w", err)
	}
	err = tx.Commit()
	s.settleCombos(err == nil)
	if err != nil {
		return usage.AppendResult{}, fmt.Errorf("sqlite: append: %w", err)
	}
	switch {
	case fold:
		p.tailSpan = newSpan(true, state.generation+1, lastRowID, lastRowID, s.rollupBatch)
	case own:
		p.add(rows, lastRowID)
	case firstRowID == state.rolledTo:
		// The tail began with this batch.
		p.tailSpan = newSpan(true, state.generation, state.rolledTo, firstRowID, s.rollupBatch)
		p.add(rows, lastRowID)
	default:
		p.tailSpan = tailSpan{}
	}
	return res, nil
}

// insertedBy returns which of a statement's events it inserted: all when
// it inserted as many rows, else those whose rows have a rowid above
// before; of events sharing an id, the first (the sort is stable, so the
// first sent).
func insertedBy(ctx context.Context, tx *sql.Tx, events []*usage.Event, n int, before int64) ([]*usage.Event, error) {
	if n == len(events) {
		return events, nil
	}
	if n == 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM events WHERE rowid > ?`, before)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := make(map[string]bool, n)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []*usage.Event
	for _, e := range events {
		if ids[e.ID] {
			out = append(out, e)
			delete(ids, e.ID)
		}
	}
	if len(out) != n {
		return nil, fmt.Errorf("rollups: the statement inserted %d rows, %d found above rowid %d", n, len(out), before)
	}
	return out, nil
}

// Logs returns one page of api_request events, newest first.
func (s *Store) Logs(ctx context.Context, workspaceID int64, q usage.LogQuery) ([]usage.Event, error) {
	defer s.timed("logs", time.Now())
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	query, args := eventsql.LogsQuery{WorkspaceID: workspaceID, Filter: q.LogFilter, After: q.After, Limit: limit}.SQL()
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
			query, args := eventsql.LogsQuery{WorkspaceID: workspaceID, Filter: w, Cols: cols}.SQL()
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
	query, args := eventsql.EventsQuery("", workspaceID, kind, cols, from, to)
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
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE workspace_id = ? AND kind = ?`, workspaceID, eventsql.KindCode(kind)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count: %w", err)
	}
	return n, nil
}
