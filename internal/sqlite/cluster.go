package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// DefaultClusterAfter is how many events stored out of time order make a
// rewrite of the events table in time order due (with a tenth of the
// events at least): below that, the pages a scan jumps between are few.
const DefaultClusterAfter = 100_000

const (
	// clusterStep is how many events one transaction of a rewrite copies:
	// ingest waits for one step at most while the copy goes on.
	clusterStep = 50_000
	// retireStep is how many rows of the old table one transaction
	// deletes after a rewrite.
	retireStep = 20_000
	// lateMS is how far behind the newest event of its workspace and kind
	// an event may arrive without counting as out of order: the pages it
	// lands between are the recent ones, which a scan reads anyway.
	lateMS = int64(time.Hour / time.Millisecond)
)

// errClusterAborted says that a rewrite's copy went while it ran: a purge
// dropped it (it may have held events the purge deleted), or another
// process finished the rewrite.
var errClusterAborted = errors.New("the copy was dropped by a purge of events or finished by another process; run it again if it is still due")

// ClusterStatus is how far the events table is from time order.
type ClusterStatus struct {
	// Disordered is how many events were stored out of time order since
	// the last rewrite (estimated for the events of a store from before
	// rewrites).
	Disordered int64
	// Events is about how many events the table holds.
	Events int64
	// Copying says a rewrite was started and not finished: Cluster
	// carries on from where it stopped.
	Copying bool
	// Retiring says a rewrite stopped before it deleted the old table:
	// Cluster deletes it.
	Retiring bool
	// Due says Cluster would rewrite the table.
	Due bool
	// Waiting is how many events wait in arrivals for the merge, which
	// counts those out of order as it moves them.
	Waiting int64
}

// ClusterStatus reports how far the events table is from time order.
func (s *Store) ClusterStatus(ctx context.Context) (ClusterStatus, error) {
	var st ClusterStatus
	var upto int64
	// The largest rowid counts the events without reading them all (more,
	// after a purge, until the next rewrite numbers them again).
	err := s.read.QueryRowContext(ctx, `SELECT disordered, copy_upto, (SELECT coalesce(max(rowid), 0) FROM events),
		EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events_retired'),
		(SELECT count(*) FROM `+waitingView+`) FROM cluster_state WHERE id = 1`).Scan(&st.Disordered, &upto, &st.Events, &st.Retiring, &st.Waiting)
	if err != nil {
		return st, fmt.Errorf("sqlite: cluster status: %w", err)
	}
	st.Copying = upto > 0
	st.Due = st.Copying || st.Retiring || (st.Disordered >= s.clusterAfter && st.Disordered*10 >= st.Events)
	return st, nil
}

// Cluster rewrites the events table in (workspace, kind, time, id) order
// when it is due (ClusterStatus), so that a scan in time order reads the
// table's pages one after the other: it copies the events in that order
// to a new table in steps of clusterStep events, each a transaction of
// its own, then swaps the tables in one transaction (which makes the new
// table's indexes: writers wait for it, 15 s for 10,000,000 events),
// and deletes the old table in steps. An interrupted rewrite carries on
// from its last step; events stored meanwhile join the copy at the swap.
// progress, if not nil, is told the events copied and the events to
// copy. force rewrites a table that is not due. Done says whether it
// rewrote the table.
func (s *Store) Cluster(ctx context.Context, force bool, progress func(done, total int64)) (ClusterResult, error) {
	s.clusterMu.Lock()
	defer s.clusterMu.Unlock()
	defer s.timed("cluster", time.Now())
	var res ClusterResult
	fail := func(err error) (ClusterResult, error) { return res, fmt.Errorf("sqlite: cluster: %w", err) }
	// A rewrite that stopped before its old table was gone.
	if err := s.retire(ctx); err != nil {
		return fail(err)
	}
	st, err := s.ClusterStatus(ctx)
	if err != nil || !(st.Due || force) {
		return res, err
	}
	start := time.Now()
	upto, done, err := s.clusterBegin(ctx)
	if err != nil {
		return fail(err)
	}
	for {
		if progress != nil {
			progress(done, st.Events)
		}
		n, err := s.clusterStep(ctx, upto)
		if err != nil {
			return fail(err)
		}
		done += n
		if n < clusterStep {
			break
		}
	}
	res.Copy, start = time.Since(start), time.Now()
	if res.Late, err = s.clusterSwap(ctx, upto); err != nil {
		return fail(err)
	}
	res.Done, res.Swap, start = true, time.Since(start), time.Now()
	if err := s.retire(ctx); err != nil {
		return fail(err)
	}
	res.Retire = time.Since(start)
	return res, nil
}

// ClusterResult is what a Cluster did, and how long each part took.
type ClusterResult struct {
	Done bool // the table was rewritten
	// Late is how many events were stored during the copy and joined it
	// at the swap.
	Late int64
	// Copy is the copy in steps; Swap the transaction writers wait for;
	// Retire the old table's deletion and the file's shrinking.
	Copy, Swap, Retire time.Duration
}

// clusterBegin starts a rewrite, unless one was started: it creates
// events_sorted like events, and the rewrite copies the events up to the
// largest rowid now. It returns that rowid and how many are copied.
func (s *Store) clusterBegin(ctx context.Context) (upto, copied int64, err error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT copy_upto, copied FROM cluster_state WHERE id = 1`).Scan(&upto, &copied); err != nil {
		return 0, 0, err
	}
	if upto > 0 {
		same, err := sameColumns(ctx, tx, "events", "events_sorted")
		if err != nil || same {
			return upto, copied, err
		}
		// A migration changed the events table since the copy began.
		copied = 0
	}
	var ddl string
	if err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'`).Scan(&ddl); err != nil {
		return 0, 0, fmt.Errorf("the events table's definition: %w", err)
	}
	sorted := eventsDefinition.ReplaceAllString(ddl, "${1}events_sorted")
	if sorted == ddl {
		return 0, 0, fmt.Errorf("the events table's definition does not start as expected: %.40q", ddl)
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS events_sorted`); err != nil {
		return 0, 0, err
	}
	if _, err := tx.ExecContext(ctx, sorted); err != nil {
		return 0, 0, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(rowid), 0) FROM events`).Scan(&upto); err != nil {
		return 0, 0, err
	}
	if upto == 0 {
		upto = 1 // an empty table: the swap has nothing to copy but the late
	}
	if _, err := tx.ExecContext(ctx, `UPDATE cluster_state SET copy_upto = ?, copied = 0 WHERE id = 1`, upto); err != nil {
		return 0, 0, err
	}
	return upto, 0, tx.Commit()
}

// sameColumns reports whether tables a and b have the same columns, in
// the same order, of the same types and defaults.
func sameColumns(ctx context.Context, tx *sql.Tx, a, b string) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info(?) x FULL JOIN pragma_table_info(?) y ON x.cid = y.cid
		WHERE x.name IS NOT y.name OR x.type IS NOT y.type OR x.dflt_value IS NOT y.dflt_value OR x."notnull" IS NOT y."notnull"`, a, b).Scan(&n)
	return n == 0, err
}

// eventsDefinition is the start of the events table's definition, as
// SQLite keeps it (with or without quotes around the name).
var eventsDefinition = regexp.MustCompile(`^(CREATE TABLE\s+)(?:"events"|events\b)`)

// clusterStep copies the next clusterStep events up to rowid upto, in
// index order, after the last one copied, and returns how many it copied.
func (s *Store) clusterStep(ctx context.Context, upto int64) (int64, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if err := checkCopy(ctx, tx, upto); err != nil {
		return 0, err
	}
	query := `INSERT INTO events_sorted SELECT * FROM events INDEXED BY events_workspace_kind_time WHERE rowid <= ?`
	args := []any{upto}
	var (
		ws, kind, timeMS int64
		id               string
	)
	err = tx.QueryRowContext(ctx, `SELECT workspace_id, kind, time_ms, id FROM events_sorted ORDER BY rowid DESC LIMIT 1`).Scan(&ws, &kind, &timeMS, &id)
	switch {
	case err == nil:
		query += ` AND (workspace_id, kind, time_ms, id) > (?, ?, ?, ?)`
		args = append(args, ws, kind, timeMS, id)
	case !errors.Is(err, sql.ErrNoRows):
		return 0, err
	}
	res, err := tx.ExecContext(ctx, query+` ORDER BY workspace_id, kind, time_ms, id LIMIT ?`, append(args, clusterStep)...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE cluster_state SET copied = copied + ? WHERE id = 1`, n); err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// checkCopy fails unless the rewrite that copies up to rowid upto is still
// on.
func checkCopy(ctx context.Context, tx *sql.Tx, upto int64) error {
	var on int64
	if err := tx.QueryRowContext(ctx, `SELECT copy_upto FROM cluster_state WHERE id = 1`).Scan(&on); err != nil {
		return err
	}
	if on != upto {
		return errClusterAborted
	}
	return nil
}

// clusterSwap ends a rewrite in one transaction: it copies the events
// merged since the copy began, checks that
// the copy holds every event, and puts events_sorted, with events'
// indexes, in events' place; the old table stays as events_retired.
func (s *Store) clusterSwap(ctx context.Context, upto int64) (late int64, err error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if err := checkCopy(ctx, tx, upto); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO events_sorted SELECT * FROM events WHERE rowid > ? ORDER BY workspace_id, kind, time_ms, id`, upto)
	if err != nil {
		return 0, fmt.Errorf("events stored during the copy: %w", err)
	}
	late, err = res.RowsAffected()
	if err != nil {
		return 0, err
	}
	var copied, stored int64
	if err := tx.QueryRowContext(ctx, `SELECT copied, (SELECT count(*) FROM events) FROM cluster_state WHERE id = 1`).Scan(&copied, &stored); err != nil {
		return 0, err
	}
	if copied+late != stored {
		return 0, fmt.Errorf("the copy holds %d events, the table %d: left as it was", copied+late, stored)
	}
	// The indexes keep their names (reports name theirs): the old ones go
	// first. SQLite sorts for each; more memory, fewer passes.
	rows, err := tx.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL ORDER BY name`)
	if err != nil {
		return 0, err
	}
	var names, defs []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return 0, err
		}
		names, defs = append(names, name), append(defs, def)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var stmts []string
	for _, name := range names {
		stmts = append(stmts, `DROP INDEX "`+name+`"`)
	}
	stmts = append(stmts, `ALTER TABLE events RENAME TO events_retired`, `ALTER TABLE events_sorted RENAME TO events`, `PRAGMA cache_size(-262144)`)
	stmts = append(stmts, defs...)
	stmts = append(stmts, `PRAGMA cache_size(-65536)`)
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("swap: %s: %w", q, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE cluster_state SET copy_upto = 0, copied = 0, disordered = ? WHERE id = 1`, late); err != nil {
		return 0, err
	}
	return late, tx.Commit()
}

// retire deletes the table a rewrite left behind, retireStep rows a
// transaction, and gives the file system its pages back.
func (s *Store) retire(ctx context.Context) error {
	var n int
	if err := s.write.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'events_retired'`).Scan(&n); err != nil || n == 0 {
		return err
	}
	for {
		res, err := s.write.ExecContext(ctx, `DELETE FROM events_retired WHERE rowid IN (SELECT rowid FROM events_retired LIMIT ?)`, retireStep)
		if err != nil {
			return fmt.Errorf("retire: %w", err)
		}
		if n, _ := res.RowsAffected(); n < retireStep {
			break
		}
	}
	if _, err := s.write.ExecContext(ctx, `DROP TABLE events_retired`); err != nil {
		return fmt.Errorf("retire: %w", err)
	}
	if err := s.giveBackPages(ctx, nil); err != nil {
		return err
	}
	// The rewrite went through the write-ahead log, where readers find
	// each page by a lookup and outside the memory map: into the file
	// with it (as far as readers let it go).
	if _, err := s.write.ExecContext(ctx, `PRAGMA main.wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// dropCopy drops a rewrite's copy in tx: purges call it, since the copy
// may hold events they delete, and rowids they free may be given to new
// events below the copy's bound.
func dropCopy(ctx context.Context, tx *sql.Tx) error {
	var upto int64
	if err := tx.QueryRowContext(ctx, `SELECT copy_upto FROM cluster_state WHERE id = 1`).Scan(&upto); err != nil || upto == 0 {
		return err
	}
	for _, q := range []string{`DROP TABLE events_sorted`, `UPDATE cluster_state SET copy_upto = 0, copied = 0 WHERE id = 1`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("drop the cluster copy: %w", err)
		}
	}
	return nil
}
