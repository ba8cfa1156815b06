package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/usage"
)

// eraseScan is how many rows of a table one read of an erasure's scan
// covers; eraseBatch is how many matched rows one transaction deletes, so
// that ingest waits for one batch at most (as purgeBatch).
var (
	eraseScan  int64 = 100_000
	eraseBatch       = 2000
)

// eraseHook, when set (tests), is called at each point of an erasure's
// batch: read, unrolled, deleted, before-commit, committed.
var eraseHook func(point string)

func erasePoint(point string) {
	if eraseHook != nil {
		eraseHook(point)
	}
}

// Erase deletes every event of the workspace that m names, merged or
// waiting, in batches of a transaction each: a batch removes its API
// calls from the rollups, records the events' ids as erased (Append
// refuses them from then on) and deletes them, so that a store stopped at
// any point holds each event either whole, rolled up and stored, or
// erased. It finds them by scanning each table in row order on a reader,
// which waits for no writer: the arrivals first, then the events, then
// both again for what merged meanwhile. The rewrite in time order waits
// (clusterMu), so that row ids stay where they are. It returns what the
// erasure erasureID removed in all, this run and any earlier one that
// stopped part way. Progress is in rows scanned.
func (s *Store) Erase(ctx context.Context, workspaceID int64, erasureID string, m usage.ErasureMatch, _ bool, progress func(done, total int64)) (usage.EraseResult, error) {
	defer s.timed("erase", time.Now())
	s.clusterMu.Lock()
	defer s.clusterMu.Unlock()
	fail := func(err error) (usage.EraseResult, error) {
		return usage.EraseResult{}, fmt.Errorf("sqlite: erase: %w", err)
	}
	where, margs := eventsql.ErasureWhere(m)
	pos := map[string]int64{}
	var done, total int64
	for _, table := range []string{eventsTable, arrivalsTable} {
		var lo, hi int64
		if err := s.read.QueryRowContext(ctx, `SELECT coalesce(min(rowid), 1) - 1, coalesce(max(rowid), 0) FROM `+table).Scan(&lo, &hi); err != nil {
			return fail(err)
		}
		pos[table], total = lo, total+hi-lo
	}
	report := func() {
		if progress != nil {
			progress(min(done, total), max(total, done))
		}
	}
	report()
	args := append([]any{0, 0, workspaceID}, margs...)
	for range 2 {
		for _, table := range []string{arrivalsTable, eventsTable} {
			for {
				var top int64
				if err := s.read.QueryRowContext(ctx, `SELECT coalesce(max(rowid), 0) FROM `+table).Scan(&top); err != nil {
					return fail(err)
				}
				from := pos[table]
				if from >= top {
					break
				}
				to := min(from+eraseScan, top)
				args[0], args[1] = from, to
				rowids, err := s.matchedRows(ctx, table, where, args)
				if err != nil {
					return fail(err)
				}
				for len(rowids) > 0 {
					n := min(len(rowids), eraseBatch)
					if err := s.eraseRows(ctx, table, workspaceID, erasureID, where, margs, rowids[:n]); err != nil {
						return fail(err)
					}
					rowids = rowids[n:]
				}
				pos[table] = to
				done += to - from
				report()
			}
		}
	}
	// Done: rows that a merge moved while the erasure ran were counted
	// in one table and scanned in the other, or scanned twice, so the
	// count of rows scanned is not the count first estimated (a CI run
	// ended at 5,200 of 10,200).
	total = max(total, done)
	done = total
	report()
	res, err := s.erasedBy(ctx, erasureID)
	if err != nil {
		return fail(err)
	}
	return res, nil
}

// matchedRows returns the row ids of table between args[0] (exclusive)
// and args[1] whose events the erasure's condition matches.
func (s *Store) matchedRows(ctx context.Context, table, where string, args []any) ([]int64, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT rowid FROM `+table+` NOT INDEXED WHERE rowid > ? AND rowid <= ? AND workspace_id = ? AND `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// eraseRows erases the rows of table with the given row ids that still
// match: the events' in a transaction, the arrivals' in two (eraseArrivals).
func (s *Store) eraseRows(ctx context.Context, table string, workspaceID int64, erasureID, where string, margs []any, rowids []int64) (err error) {
	if table == arrivalsTable {
		return s.eraseArrivals(ctx, workspaceID, erasureID, where, margs, rowids)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	matched, err := matchedEvents(ctx, tx, table, workspaceID, where, margs, rowids)
	if err != nil || len(matched) == 0 {
		return err
	}
	erasePoint("read")
	// The rollups hold the merged calls, and only those: they are taken
	// out of them (the arrivals' calls are added by readers as they read).
	var calls []any
	for _, e := range matched {
		if e.kind == eventsql.KindCode(usage.KindAPIRequest) {
			calls = append(calls, e.rowid)
		}
	}
	if len(calls) > 0 {
		if err := s.unrollCalls(ctx, tx, workspaceID, calls); err != nil {
			return err
		}
	}
	erasePoint("unrolled")
	if err := recordErased(ctx, tx, workspaceID, erasureID, matched); err != nil {
		return err
	}
	if err := deleteRows(ctx, tx, table, matched); err != nil {
		return err
	}
	erasePoint("deleted")
	if err := dropCopy(ctx, tx); err != nil {
		return err
	}
	erasePoint("before-commit")
	err = tx.Commit()
	s.settleCombos(err == nil)
	if err == nil {
		erasePoint("committed")
	}
	return err
}

// eraseArrivals erases the arrivals with the given seqs that still match,
// with the merge held back: it records the waiting ones as erased in the
// store's file, commits, and then deletes them from the arrivals file. A
// process stopped between the two leaves them recorded and still there,
// and the erasure, taken up again, finds and deletes them; meanwhile
// appends refuse their ids. Merged arrivals that a merge step left there
// (merge.go) go too, but they are not erased events of their own: the
// events table holds them, or held them until a purge.
func (s *Store) eraseArrivals(ctx context.Context, workspaceID int64, erasureID, where string, margs []any, seqs []int64) error {
	s.mergeMu.Lock()
	defer s.mergeMu.Unlock()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	matched, err := matchedEvents(ctx, tx, arrivalsTable, workspaceID, where, margs, seqs)
	if err != nil || len(matched) == 0 {
		return err
	}
	erasePoint("read")
	erasePoint("unrolled") // the rollups hold no arrival
	var mergedTo int64
	if err := tx.QueryRowContext(ctx, `SELECT merged_to FROM merge_state WHERE id = 1`).Scan(&mergedTo); err != nil {
		return err
	}
	waiting := slices.DeleteFunc(slices.Clone(matched), func(e erasedRow) bool { return e.rowid <= mergedTo })
	if err := recordErased(ctx, tx, workspaceID, erasureID, waiting); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	atx, err := s.appendDB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer atx.Rollback()
	if err := deleteRows(ctx, atx, arrivalsTable, matched); err != nil {
		return err
	}
	erasePoint("deleted")
	if err := bumpGeneration(ctx, atx); err != nil {
		return err
	}
	erasePoint("before-commit")
	if err := atx.Commit(); err != nil {
		return err
	}
	erasePoint("committed")
	return nil
}

// erasedRow is a row an erasure matched.
type erasedRow struct {
	rowid, kind, timeMS int64
	id                  string
}

// matchedEvents reads, in tx, the rows of table with the given row ids
// that still match the erasure: a purge may have deleted some since they
// were scanned.
func matchedEvents(ctx context.Context, tx *sql.Tx, table string, workspaceID int64, where string, margs []any, rowids []int64) ([]erasedRow, error) {
	args := make([]any, 0, len(rowids)+1+len(margs))
	args = append(args, workspaceID)
	args = append(args, margs...)
	for _, id := range rowids {
		args = append(args, id)
	}
	rows, err := tx.QueryContext(ctx, `SELECT rowid, id, kind, time_ms FROM `+table+` WHERE workspace_id = ? AND `+where+`
		AND rowid IN (`+eventsql.Placeholders(len(rowids))+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var matched []erasedRow
	for rows.Next() {
		var e erasedRow
		if err := rows.Scan(&e.rowid, &e.id, &e.kind, &e.timeMS); err != nil {
			return nil, err
		}
		matched = append(matched, e)
	}
	return matched, rows.Err()
}

// recordErased records the events' ids as erased by erasureID, in tx.
func recordErased(ctx context.Context, tx *sql.Tx, workspaceID int64, erasureID string, events []erasedRow) error {
	ins := make([]any, 0, 5*len(events))
	for _, e := range events {
		ins = append(ins, workspaceID, e.id, erasureID, e.kind, e.timeMS)
	}
	for i := 0; i < len(events); i += 100 {
		n := min(100, len(events)-i)
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO erased_events (workspace_id, id, erasure_id, kind, time_ms) VALUES `+
			rowsOf(n, 5), ins[5*i:5*(i+n)]...); err != nil {
			return err
		}
	}
	return nil
}

// deleteRows deletes the rows from table, in tx.
func deleteRows(ctx context.Context, tx *sql.Tx, table string, rows []erasedRow) error {
	del := make([]any, len(rows))
	for i, e := range rows {
		del[i] = e.rowid
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE rowid IN (`+eventsql.Placeholders(len(del))+`)`, del...)
	return err
}

// rowsOf is n rows of width placeholders for a VALUES list.
func rowsOf(n, width int) string {
	row := "(" + eventsql.Placeholders(width) + ")"
	b := make([]byte, 0, n*(len(row)+2))
	for i := range n {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, row...)
	}
	return string(b)
}

// unrollCalls takes the merged calls of the given row ids out of the
// workspace's rollups, in tx: their cells are added with negative counts
// (two's complement, which the merge functions add back, dropping cells
// that come to nothing).
func (s *Store) unrollCalls(ctx context.Context, tx *sql.Tx, workspaceID int64, rowids []any) error {
	rows, err := tx.QueryContext(ctx, `SELECT rowid, `+callColumns+` FROM `+eventsTable+` WHERE rowid IN (`+eventsql.Placeholders(len(rowids))+`)
		ORDER BY time_ms`, rowids...)
	if err != nil {
		return err
	}
	var calls []tailRow
	for rows.Next() {
		var key int64
		r, own, err := scanCall(rows, &key)
		if err != nil {
			rows.Close()
			return err
		}
		if !own {
			calls = append(calls, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	hours := hourCells{}
	if err := s.addCells(ctx, tx, workspaceID, calls, hours); err != nil {
		return err
	}
	for _, quarters := range hours {
		for q := range quarters {
			for i := range quarters[q] {
				quarters[q][i].Calls = -quarters[q][i].Calls
			}
		}
	}
	return writeRollups(ctx, tx, s.upserts, workspaceID, hours)
}

// erasedBy sums what the erasure erasureID removed.
func (s *Store) erasedBy(ctx context.Context, erasureID string) (usage.EraseResult, error) {
	res := usage.EraseResult{Removed: map[usage.Kind]int64{}}
	rows, err := s.read.QueryContext(ctx, `SELECT kind, count(*), min(time_ms), max(time_ms) FROM erased_events WHERE erasure_id = ? GROUP BY kind`, erasureID)
	if err != nil {
		return res, err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, n, lo, hi int64
		if err := rows.Scan(&kind, &n, &lo, &hi); err != nil {
			return res, err
		}
		res.Removed[eventsql.KindOf(kind)] += n
		first, last := time.UnixMilli(lo).UTC(), time.UnixMilli(hi).UTC()
		if res.First.IsZero() || first.Before(res.First) {
			res.First = first
		}
		if last.After(res.Last) {
			res.Last = last
		}
	}
	return res, rows.Err()
}
