package clickhouse

import (
	"context"
	"fmt"
	"time"
)

// purged are the tables a purge deletes from, with their time column:
// the events and every rollup of them.
var purged = []struct{ table, column string }{
	{"events", "time_ms"}, {"rollup_series", "bucket_ms"}, {"rollup_hours", "bucket_ms"}, {"rollup_calls", "bucket_ms"},
	{"rollup_syncs", "day_ms"}, {"rollup_totals", "bucket_ms"}, {"rollup_timing_days", "bucket_ms"}, {"rollup_days", "bucket_ms"},
	{"rollup_values", "bucket_ms"}, {"rollup_seen", "day_ms"},
}

// PurgeEvents removes the workspace's events from before `before` (a UTC
// day boundary: every rollup bucket goes whole) with their rollups. Events
// of every workspace share the month partitions, so one workspace's go by
// ALTER TABLE … DELETE mutations, which ClickHouse runs in the background
// by rewriting the parts they touch; PurgeEvents waits until they are done.
func (s *Store) PurgeEvents(ctx context.Context, workspaceID int64, before time.Time) (int64, error) {
	ms := before.UnixMilli()
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT toInt64(count()) FROM `+table+` WHERE workspace_id = ? AND time_ms < ?`, workspaceID, ms).Scan(&n); err != nil {
		return 0, fmt.Errorf("clickhouse: purge: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	// The views' rows wait in buffers; flushed first, the deletes below
	// reach them too.
	if err := s.flushRollups(ctx); err != nil {
		return 0, fmt.Errorf("clickhouse: purge: %w", err)
	}
	for _, p := range purged {
		if s.cluster != nil && p.table == "rollup_series" {
			continue // no longer read; a cluster never had it
		}
		if err := s.alter(ctx, p.table, fmt.Sprintf(`DELETE WHERE workspace_id = %d AND %s < %d`, workspaceID, p.column, ms)); err != nil {
			return 0, fmt.Errorf("clickhouse: purge %s: %w", p.table, err)
		}
	}
	if err := s.waitMutations(ctx, ""); err != nil {
		return n, fmt.Errorf("clickhouse: purge: %w", err)
	}
	return n, nil
}

// flushRollups writes what waits in the rollups' buffers to their tables:
// the incoming calls first, whose views write into the others (migrations
// 026 and 066).
func (s *Store) flushRollups(ctx context.Context) error {
	if s.cluster != nil {
		return nil // no buffers (cluster.go)
	}
	for _, b := range rollupBuffers {
		if _, err := s.db.ExecContext(ctx, `OPTIMIZE TABLE `+b); err != nil {
			return fmt.Errorf("flush %s: %w", b, err)
		}
	}
	return nil
}
