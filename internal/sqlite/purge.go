package sqlite

import (
	"context"
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
		for {
			res, err := s.write.ExecContext(ctx, `DELETE FROM events WHERE rowid IN
				(SELECT rowid FROM events WHERE workspace_id = ? AND kind = ? AND time_ms < ? LIMIT ?)`,
				workspaceID, eventsql.KindCode(k), ms, purgeBatch)
			if err != nil {
				return total, fmt.Errorf("sqlite: purge: %w", err)
			}
			n, _ := res.RowsAffected()
			total += n
			if n < purgeBatch {
				break
			}
		}
	}
	for _, q := range []string{`DELETE FROM rollups WHERE workspace_id = ? AND hour_ms < ?`, `DELETE FROM sync_rollups WHERE workspace_id = ? AND day_ms < ?`} {
		if _, err := s.write.ExecContext(ctx, q, workspaceID, ms); err != nil {
			return total, fmt.Errorf("sqlite: purge rollups: %w", err)
		}
	}
	var mode int
	if err := s.write.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&mode); err == nil && mode == 2 {
		// 2: incremental. A page at a time, in steps, to keep each short.
		for {
			var free int
			if err := s.write.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil || free == 0 {
				break
			}
			if _, err := s.write.ExecContext(ctx, `PRAGMA incremental_vacuum(2000)`); err != nil {
				return total, fmt.Errorf("sqlite: purge: vacuum: %w", err)
			}
		}
	}
	return total, nil
}
