package sqlmeta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/usagelog/usagelog/internal/sqltime"
	"github.com/usagelog/usagelog/internal/usage"
)

// RequestReclassification records a change of the workspace's rules: a
// run is due to classify its stored calls again.
func (s *Store) RequestReclassification(ctx context.Context, workspaceID int64, at time.Time) error {
	if _, err := s.exec(ctx, `INSERT INTO reclassifications (workspace_id, requested, requested_at) VALUES (?, 1, ?)
		ON CONFLICT (workspace_id) DO UPDATE SET requested = reclassifications.requested + 1, requested_at = excluded.requested_at`,
		workspaceID, sqltime.ToMillis(at)); err != nil {
		return fmt.Errorf("meta: request reclassification: %w", err)
	}
	return nil
}

const reclassColumns = `requested, requested_at, started, started_at, updated_at, finished_at, done, total, changed, error`

// Reclassification returns the state of the workspace's reclassification.
func (s *Store) Reclassification(ctx context.Context, workspaceID int64) (usage.Reclassification, error) {
	var r usage.Reclassification
	err := s.queryRow(ctx, `SELECT `+reclassColumns+` FROM reclassifications WHERE workspace_id = ?`, workspaceID).Scan(
		&r.Requested, sqltime.Millis{T: &r.RequestedAt}, &r.Started, sqltime.Millis{T: &r.StartedAt}, sqltime.Millis{T: &r.UpdatedAt},
		sqltime.Millis{T: &r.FinishedAt}, &r.Done, &r.Total, &r.Changed, &r.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return usage.Reclassification{}, nil
	}
	if err != nil {
		return r, fmt.Errorf("meta: reclassification: %w", err)
	}
	return r, nil
}

// ClaimReclassification takes a due run: a workspace whose rules changed
// since its latest run began, at settledBefore or earlier, or whose run
// stopped reporting before staleBefore (then Resumed). The UPDATE checks the row it claims again,
// so two replicas never take the same run. ok is false when none is due.
func (s *Store) ClaimReclassification(ctx context.Context, now, settledBefore, staleBefore time.Time) (c usage.ReclassClaim, ok bool, err error) {
	const due = `((requested > started AND requested_at <= ?) OR (finished_at < started_at AND updated_at < ?))`
	settled, stale, at := sqltime.ToMillis(settledBefore), sqltime.ToMillis(staleBefore), sqltime.ToMillis(now)
	var attempt int64
	err = s.queryRowW(ctx, `UPDATE reclassifications SET attempt = CASE WHEN requested > started THEN 1 ELSE attempt + 1 END,
			started = requested, started_at = ?, updated_at = ?, finished_at = 0, done = 0, total = 0, error = ''
		WHERE workspace_id = (SELECT workspace_id FROM reclassifications WHERE `+due+` ORDER BY requested_at LIMIT 1)
		  AND `+due+`
		RETURNING workspace_id, attempt`, at, at, settled, stale, settled, stale).Scan(&c.WorkspaceID, &attempt)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("meta: claim reclassification: %w", err)
	}
	c.Resumed = attempt > 1
	return c, true, nil
}

// ReclassificationProgress records a run's progress and heartbeat.
func (s *Store) ReclassificationProgress(ctx context.Context, workspaceID, done, total int64, at time.Time) error {
	if _, err := s.exec(ctx, `UPDATE reclassifications SET done = ?, total = ?, updated_at = ? WHERE workspace_id = ?`,
		done, total, sqltime.ToMillis(at), workspaceID); err != nil {
		return fmt.Errorf("meta: reclassification progress: %w", err)
	}
	return nil
}

// FinishReclassification records the end of a run: how many calls changed,
// and why it failed ("" when it did not).
func (s *Store) FinishReclassification(ctx context.Context, workspaceID, changed int64, failure string, at time.Time) error {
	if _, err := s.exec(ctx, `UPDATE reclassifications SET changed = ?, error = ?, finished_at = ?, updated_at = ? WHERE workspace_id = ?`,
		changed, failure, sqltime.ToMillis(at), sqltime.ToMillis(at), workspaceID); err != nil {
		return fmt.Errorf("meta: finish reclassification: %w", err)
	}
	return nil
}
