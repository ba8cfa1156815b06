package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// SetAppendHook calls f for each append of a group, in the group's
// transaction, with the group's size: an error fails that append.
func SetAppendHook(f func(workspaceID int64, group int) error) { appendHook = f }

// WaitingAppends is how many appends wait for the append connection.
func WaitingAppends(s *Store) int {
	s.appends.mu.Lock()
	defer s.appends.mu.Unlock()
	return len(s.appends.waiting)
}

// ForgetRollups makes s a store from before the rollups: their tables gone
// and their migration not applied.
func ForgetRollups(ctx context.Context, s *Store) error {
	s.combos.mu.Lock()
	clear(s.combos.ids)
	clear(s.combos.pending)
	s.combos.mu.Unlock()
	for _, q := range []string{"DROP TABLE rollups", "DROP TABLE rollup_combos", "DROP TABLE sync_rollups",
		"DELETE FROM schema_migrations WHERE version IN (6, 7)"} {
		if _, err := s.write.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// Synchronous is the write connection's PRAGMA synchronous (1 NORMAL,
// 2 FULL).
func Synchronous(ctx context.Context, s *Store) (int, error) {
	var n int
	err := s.write.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&n)
	return n, err
}

// SetMergeHook has f called at each point of every merge step (nil: no
// more), for tests that stop a process there.
func SetMergeHook(f func(point string)) { mergeHook = f }

// SetEraseHook has f called at each point of every erasure batch, and
// SetEraseBatch sets how many rows a batch erases, for tests that stop a
// process there.
func SetEraseHook(f func(point string)) { eraseHook = f }

func SetEraseBatch(n int) { eraseBatch = n }

// CountEvents counts the events that match f one by one, as CountLogs did
// before it read the rollups.
func CountEvents(ctx context.Context, s *Store, workspaceID int64, f usage.LogFilter) (int64, error) {
	return s.countEvents(ctx, workspaceID, f)
}

// Descents counts the entries of the (workspace, kind, time, id) index
// whose rowid is below the one before: 0 when the table is in time order.
func Descents(ctx context.Context, s *Store) (int64, error) {
	var n int64
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT rowid < lag(rowid) OVER (ORDER BY workspace_id, kind, time_ms, id) AS back FROM events) WHERE back`).Scan(&n)
	return n, err
}

// Schema lists the names of the events table's indexes, and every table.
func Schema(ctx context.Context, s *Store) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT type || ' ' || name FROM sqlite_master WHERE (type = 'index' AND tbl_name = 'events') OR type = 'table' ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// AddDisordered counts n more events as stored out of order.
func AddDisordered(ctx context.Context, s *Store, n int64) error {
	_, err := s.write.ExecContext(ctx, `UPDATE cluster_state SET disordered = disordered + ? WHERE id = 1`, n)
	return err
}

// SetScanWorkers sets how many goroutines decode a scan (1: one query
// on one goroutine, as scans were read before windows).
func SetScanWorkers(s *Store, n int) { s.scanWorkers = n }

// Exec runs a statement on the write connection.
func Exec(ctx context.Context, s *Store, query string) error {
	_, err := s.write.ExecContext(ctx, query)
	return err
}

// ArrivalColumns returns the columns of arrivals and of events that
// differ (name, type, default, not null), arrivals' seq left out.
func ArrivalColumns(ctx context.Context, s *Store) ([]string, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT coalesce(x.name, y.name) FROM
		(SELECT * FROM pragma_table_info('arrivals') WHERE name != 'seq') x FULL JOIN pragma_table_info('events') y ON x.name = y.name
		WHERE x.name IS NULL OR y.name IS NULL OR x.type IS NOT y.type OR x.dflt_value IS NOT y.dflt_value OR x."notnull" IS NOT y."notnull"`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// SetYieldAfter sets how long a merge step out of time order runs before
// it yields to a writer, until the test ends.
func SetYieldAfter(t testing.TB, d time.Duration) {
	old := yieldAfter
	yieldAfter = d
	t.Cleanup(func() { yieldAfter = old })
}

// SetRefillMax sets how many arrivals may wait for the merged ones to go
// at once, until the test ends.
func SetRefillMax(t testing.TB, n int64) {
	old := refillMax
	refillMax = n
	t.Cleanup(func() { refillMax = old })
}

// WriterWaits is how many times a writer waited for the store's file's
// write connection.
func WriterWaits(s *Store) int64 { return s.write.Stats().WaitCount }

// MergeChunk is how many arrivals a merge step moves before it looks for
// writers waiting.
const MergeChunk = mergeChunk

// AlterFile runs statements on the store file at path, which no Store has
// open, with its arrivals file attached.
func AlterFile(path string, stmts ...string) error {
	db, err := openDB(path, dbOptions{attach: []attachment{{path: arrivalsPath(path), schema: arrivalsSchema}}})
	if err != nil {
		return err
	}
	defer db.Close()
	for _, st := range stmts {
		if _, err := db.Exec(st); err != nil {
			return fmt.Errorf("%s: %w", st, err)
		}
	}
	return nil
}

// StoredArrivals counts the rows of the arrivals table that match where
// ("1" for all), the merged ones a merge step left there included.
func StoredArrivals(ctx context.Context, s *Store, where string, args ...any) (int64, error) {
	var n int64
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM `+arrivalsTable+` WHERE `+where, args...).Scan(&n)
	return n, err
}

// FreePages reads how many of the file's pages are free, and how many it
// has.
func FreePages(ctx context.Context, s *Store) (free, pages int64, err error) {
	return s.freePages(ctx)
}

// MergeWaits says whether the background merge waits for a reader
// (waitForLog), and Checkpoints how many checkpoints the checkpointer ran.
func MergeWaits(s *Store) bool { return s.mergeWaits.Load() }

func Checkpoints(s *Store) int64 { return s.wal.checks.Load() }

// HoldRead begins a read on a connection of s's read pool and keeps its
// snapshot until release is called.
func HoldRead(ctx context.Context, s *Store) (release func() error, err error) {
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+eventsTable).Scan(&n); err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx.Rollback, nil
}
