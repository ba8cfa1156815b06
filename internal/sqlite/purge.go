package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/sqltime"
	"github.com/usagelog/usagelog/internal/usage"
)

// purgeBatch is how many events one deleting statement removes: each is a
// transaction of its own on the single write connection, so ingest waits
// for at most one batch (BenchmarkPurge measures it).
const purgeBatch = 2000

// PurgeEvents removes the workspace's events of every kind from before
// `before` (the janitor gives a UTC day boundary, so that rollups of hours
// and days go whole) and their rollups, and returns how many events went.
// The freed pages are given back to the file system where the store keeps
// them for that (incremental auto-vacuum).
func (s *Store) PurgeEvents(ctx context.Context, workspaceID int64, before time.Time) (int64, error) {
	defer s.timed("purge", time.Now())
	ms := sqltime.ToMillis(before)
	var total int64
	for _, k := range usage.Kinds {
		// The arrivals first: one that a merge step moved meanwhile is
		// in events by the time they are purged.
		for _, table := range []string{arrivalsTable, eventsTable} {
			for {
				n, err := s.purgeBatch(ctx, table, workspaceID, k, ms)
				if err != nil {
					return total, fmt.Errorf("sqlite: purge: %w", err)
				}
				total += n
				if n < purgeBatch {
					break
				}
			}
		}
	}
	for _, q := range []string{`DELETE FROM rollups WHERE workspace_id = ? AND hour_ms < ?`, `DELETE FROM sync_rollups WHERE workspace_id = ? AND day_ms < ?`} {
		if _, err := s.write.ExecContext(ctx, q, workspaceID, ms); err != nil {
			return total, fmt.Errorf("sqlite: purge rollups: %w", err)
		}
	}
	if err := s.giveBackPages(ctx, nil); err != nil {
		return total, fmt.Errorf("sqlite: purge: %w", err)
	}
	return total, nil
}

// giveBackPages gives the store's file's free pages back to the file
// system where the store keeps them for that (incremental auto-vacuum),
// until none are left or stop (when set) says.
func (s *Store) giveBackPages(ctx context.Context, stop func() bool) error {
	return giveBackPages(ctx, s.write, stop)
}

// giveBackPages gives the free pages of db's file (its writer) back to the
// file system where the file keeps them for that (incremental
// auto-vacuum): 2,000 pages a statement, each its own transaction, to keep
// each short, until none are left or stop (when set) says.
func giveBackPages(ctx context.Context, db *sql.DB, stop func() bool) error {
	var mode int
	if err := db.QueryRowContext(ctx, `PRAGMA main.auto_vacuum`).Scan(&mode); err != nil || mode != 2 { // 2: incremental
		return err
	}
	for {
		var free int
		if err := db.QueryRowContext(ctx, `PRAGMA main.freelist_count`).Scan(&free); err != nil || free == 0 {
			return err
		}
		// The pragma returns a row for each page it moves, and a statement
		// stepped once (Exec) moved one page a commit.
		rows, err := db.QueryContext(ctx, `PRAGMA main.incremental_vacuum(2000)`)
		if err != nil {
			return fmt.Errorf("vacuum: %w", err)
		}
		for rows.Next() {
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("vacuum: %w", err)
		}
		if stop != nil && stop() {
			return nil
		}
	}
}

// purgeBatch deletes up to purgeBatch events of kind from before ms from
// table, in a transaction of its file's writer. Of the arrivals it deletes
// the waiting ones (the merged ones left there are purged from events,
// and leave the arrivals file with the merge), with the merge held back,
// which would otherwise move what it read of them into events; deleted
// arrivals change the generation, which tells readers that what they hold
// of the arrivals is stale. Deleted events drop a rewrite's copy.
func (s *Store) purgeBatch(ctx context.Context, table string, workspaceID int64, k usage.Kind, ms int64) (int64, error) {
	db, waiting := s.write, ""
	if table == arrivalsTable {
		s.mergeMu.Lock()
		defer s.mergeMu.Unlock()
		db, waiting = s.appendDB, " AND "+unmergedArrival
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE rowid IN
		(SELECT rowid FROM `+table+` WHERE workspace_id = ? AND kind = ? AND time_ms < ?`+waiting+` LIMIT ?)`,
		workspaceID, eventsql.KindCode(k), ms, purgeBatch)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return 0, err
	}
	if table == eventsTable {
		err = dropCopy(ctx, tx)
	} else {
		err = bumpGeneration(ctx, tx)
	}
	if err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// bumpGeneration tells readers, in tx of the append connection, that what
// they hold of the arrivals is stale (tail.go).
func bumpGeneration(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE arrival_state SET generation = generation + 1 WHERE id = 1`)
	return err
}
