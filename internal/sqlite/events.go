package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync"
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
// append's transaction takes the append connection.
var insertSizes = []int{rowsPerInsert, 32, 16, 8, 4, 2, 1}

// insertStmt returns the prepared INSERT of n rows of a kind (kind "":
// the lookup of n ids among merged and erased events). Statements
// are prepared once on the append connection and reused by every
// transaction: preparing a 50-row INSERT costs as much as running it.
func (s *Store) insertStmt(ctx context.Context, k usage.Kind, n int) (*sql.Stmt, error) {
	s.insertMu.Lock()
	defer s.insertMu.Unlock()
	key := insertKey{k, n}
	if st, ok := s.inserts[key]; ok {
		return st, nil
	}
	if k == "" {
		// Erased events' ids count as stored (erase.go): a client's
		// retry does not bring the person back.
		ids := numbered(2, n)
		st, err := s.appendDB.PrepareContext(ctx, `SELECT id FROM `+eventsTable+` WHERE workspace_id = ?1 AND id IN (`+ids+`)
			UNION ALL SELECT id FROM erased_events WHERE workspace_id = ?1 AND id IN (`+ids+`)`)
		if err != nil {
			return nil, err
		}
		s.inserts[key] = st
		return st, nil
	}
	cols := eventsql.KindColumns(k)
	names := make([]string, 0, len(cols)+2)
	names = append(names, "workspace_id", "kind")
	for _, c := range cols {
		names = append(names, c.Name)
	}
	row := "(" + eventsql.Placeholders(len(names)) + ")"
	q := "INSERT INTO " + arrivalsTable + " (" + strings.Join(names, ", ") + ") VALUES " +
		strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
	st, err := s.appendDB.PrepareContext(ctx, q)
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

// dupProbe is how many ids one lookup of merged events takes: the
// lookup is prepared once, a shorter list padded with its last id.
const dupProbe = 500

// appendGroupEvents bounds the events of the appends that one
// transaction stores together.
const appendGroupEvents = 50_000

// pendingAppend is an Append waiting for its group's transaction.
type pendingAppend struct {
	ws     int64
	sorted []*usage.Event // the batch without its own duplicates, by id
	stmts  map[insertKey]*sql.Stmt
	res    usage.AppendResult
	err    error
	// wake is signalled once: when the append is stored (done), or when
	// it is to store the next group, its own among them (lead).
	wake chan struct{}
	done bool
}

// appendQueue is the appends waiting for the append connection (the
// arrivals file's writer). One of them at a time leads: it stores a group
// of those waiting, its own first, in one transaction, and hands the lead
// to the next waiting.
// Appends that arrive while one is stored then share a commit, as
// ClickHouse's share an insert (clickhouse/appends.go).
type appendQueue struct {
	mu      sync.Mutex
	waiting []*pendingAppend
	leading bool
}

// Append appends events to the arrivals, and does nothing else: the
// merge moves them into events and the rollups later. Ids the workspace
// already has, merged or waiting, or earlier in this batch, are counted
// as duplicates. Appends that arrive together are stored in one
// transaction, each in full or not at all; once queued, an append waits
// for its group whatever ctx says: the group may be storing it already.
func (s *Store) Append(ctx context.Context, workspaceID int64, events []usage.Event) (usage.AppendResult, error) {
	defer s.timed("append", time.Now())
	if len(events) == 0 {
		return usage.AppendResult{}, nil
	}
	p := &pendingAppend{ws: workspaceID, wake: make(chan struct{}, 1)}
	// Of two events of the batch with one id, the first sent is kept,
	// whatever their kinds: the sort below groups kinds.
	seen := make(map[string]struct{}, len(events))
	p.sorted = make([]*usage.Event, 0, len(events))
	for i := range events {
		if _, dup := seen[events[i].ID]; dup {
			p.res.Duplicates++
			continue
		}
		seen[events[i].ID] = struct{}{}
		p.sorted = append(p.sorted, &events[i])
	}
	// In id order the lookups of merged ids walk their index forwards.
	slices.SortFunc(p.sorted, func(a, b *usage.Event) int { return strings.Compare(a.ID, b.ID) })
	// Statements are prepared before the group's transaction holds the
	// append connection.
	p.stmts = map[insertKey]*sql.Stmt{}
	for _, k := range append([]usage.Kind{""}, usage.Kinds...) {
		if k != "" && !slices.ContainsFunc(p.sorted, func(e *usage.Event) bool { return e.Kind == k }) {
			continue
		}
		sizes := insertSizes
		if k == "" {
			sizes = []int{dupProbe}
		}
		for _, n := range sizes {
			st, err := s.insertStmt(ctx, k, n)
			if err != nil {
				return usage.AppendResult{}, fmt.Errorf("sqlite: append: %w", err)
			}
			p.stmts[insertKey{k, n}] = st
		}
	}
	q := &s.appends
	q.mu.Lock()
	q.waiting = append(q.waiting, p)
	lead := !q.leading
	q.leading = true
	q.mu.Unlock()
	if !lead {
		<-p.wake
		if p.done {
			return p.res, p.err
		}
	}
	s.storeAppends(context.WithoutCancel(ctx))
	return p.res, p.err
}

// storeAppends stores the group at the head of the queue, whose first
// append is the caller's, and wakes the group and the next leader. The
// group is taken once its transaction holds the append connection: the
// appends that queued while it waited for it join.
func (s *Store) storeAppends(ctx context.Context) {
	q := &s.appends
	// The waiting arrivals' ids are read before the append connection is
	// taken (waiting_ids.go).
	<-s.waiting.ready
	tx, err := s.appendDB.BeginTx(ctx, nil)
	q.mu.Lock()
	n, events := 0, 0
	for n < len(q.waiting) && (n == 0 || events+len(q.waiting[n].sorted) <= appendGroupEvents) {
		events += len(q.waiting[n].sorted)
		n++
	}
	group := slices.Clone(q.waiting[:n])
	q.waiting = q.waiting[n:]
	q.mu.Unlock()

	if err != nil {
		for _, p := range group {
			p.err = fmt.Errorf("sqlite: append: %w", err)
		}
	} else {
		s.storeGroup(ctx, tx, group)
	}

	q.mu.Lock()
	if len(q.waiting) > 0 {
		q.waiting[0].wake <- struct{}{}
	} else {
		q.leading = false
	}
	q.mu.Unlock()
	for _, p := range group[1:] {
		p.done = true
		p.wake <- struct{}{}
	}
}

// appendHook, when set (tests), is called for each append of a group in
// its transaction, with the group's size: an error fails that append.
var appendHook func(workspaceID int64, group int) error

// storeGroup stores each append of group in tx, and commits: an append
// that fails is rolled back to its savepoint, alone.
func (s *Store) storeGroup(ctx context.Context, tx *sql.Tx, group []*pendingAppend) {
	fail := func(err error) {
		for _, p := range group {
			if p.err == nil {
				p.res, p.err = usage.AppendResult{}, fmt.Errorf("sqlite: append: %w", err)
			}
		}
	}
	defer tx.Rollback()
	mergedTo, err := s.waiting.catchUp(ctx, tx)
	if err != nil {
		fail(err)
		return
	}
	// The ids that the group's appends stored before each: not yet among
	// s.waiting's, which reads only committed arrivals.
	stored := map[waitingKey]struct{}{}
	inserted := 0
	for _, p := range group {
		if _, err := tx.ExecContext(ctx, `SAVEPOINT append`); err != nil {
			fail(err)
			return
		}
		res, kept, err := s.appendIn(ctx, tx, p, mergedTo, stored)
		if err == nil && appendHook != nil {
			err = appendHook(p.ws, len(group))
		}
		if err != nil {
			p.res, p.err = usage.AppendResult{}, fmt.Errorf("sqlite: append: %w", err)
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO append`); err != nil {
				fail(err)
				return
			}
		} else {
			p.res.Inserted += res.Inserted
			p.res.Duplicates += res.Duplicates
			inserted += res.Inserted
			for _, e := range kept {
				stored[waitingKey{p.ws, e.ID}] = struct{}{}
			}
		}
		if _, err := tx.ExecContext(ctx, `RELEASE append`); err != nil {
			fail(err)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(err)
		return
	}
	if inserted > 0 {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

// appendIn inserts p's events into the arrivals in tx, but for the ids
// the workspace already has: among its merged (or erased) events, its
// arrivals waiting above mergedTo, or stored by the group's earlier
// appends. It returns the events it inserted.
func (s *Store) appendIn(ctx context.Context, tx *sql.Tx, p *pendingAppend, mergedTo int64, stored map[waitingKey]struct{}) (usage.AppendResult, []*usage.Event, error) {
	var res usage.AppendResult
	merged, err := mergedIDs(ctx, tx.StmtContext(ctx, p.stmts[insertKey{"", dupProbe}]), p.ws, p.sorted)
	if err != nil {
		return res, nil, err
	}
	ids := make([]string, 0, len(p.sorted))
	for _, e := range p.sorted {
		if _, dup := merged[e.ID]; !dup {
			ids = append(ids, e.ID)
		}
	}
	waiting, err := s.waiting.find(ctx, tx, p.ws, mergedTo, ids)
	if err != nil {
		return res, nil, err
	}
	sorted := make([]*usage.Event, 0, len(p.sorted))
	for _, e := range p.sorted {
		_, dup := merged[e.ID]
		if !dup {
			_, dup = waiting[e.ID]
		}
		if !dup {
			_, dup = stored[waitingKey{p.ws, e.ID}]
		}
		if !dup {
			sorted = append(sorted, e)
		}
	}
	res.Duplicates += len(p.sorted) - len(sorted)
	kept := slices.Clone(sorted)
	// Kinds grouped, for statements of one kind.
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
			args = args[:0]
			for _, e := range sorted[from:to] {
				args = append(args, p.ws, eventsql.KindCode(k))
				for _, c := range cols {
					args = append(args, eventsql.InsertValue(c.Ptr(e)))
				}
			}
			if _, err := tx.StmtContext(ctx, p.stmts[insertKey{k, size}]).ExecContext(ctx, args...); err != nil {
				return usage.AppendResult{}, nil, err
			}
			res.Inserted += size
			from = to
		}
		i = j
	}
	return res, kept, nil
}

// mergedIDs returns which of the events' ids (sorted) the workspace's
// merged events hold; probe is the prepared lookup of dupProbe ids.
func mergedIDs(ctx context.Context, probe *sql.Stmt, workspaceID int64, sorted []*usage.Event) (map[string]struct{}, error) {
	var out map[string]struct{}
	args := make([]any, dupProbe+1)
	for chunk := range slices.Chunk(sorted, dupProbe) {
		args[0] = workspaceID
		for i := range dupProbe {
			args[i+1] = chunk[min(i, len(chunk)-1)].ID
		}
		rows, err := probe.QueryContext(ctx, args...)
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
		+ (SELECT count(*) FROM `+waitingView+` WHERE workspace_id = ?1 AND kind = ?2)`, workspaceID, eventsql.KindCode(kind)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlite: count: %w", err)
	}
	return n, nil
}
