package sqlmeta

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/usagelog/usagelog/internal/sqltime"
	"github.com/usagelog/usagelog/internal/usage"
)

const erasureColumns = `id, workspace_id, field, value, hash, reason, delete_files, status, creator, created_at, started_at, updated_at,
	finished_at, done, total, attempt, removed, files, error`

func scanErasure(sc scanner) (usage.Erasure, error) {
	var e usage.Erasure
	var field, status, creator, removed, files string
	var deleteFiles int64
	err := sc.Scan(&e.ID, &e.WorkspaceID, &field, &e.Value, &e.Hash, &e.Reason, &deleteFiles, &status, &creator,
		sqltime.Millis{T: &e.CreatedAt}, sqltime.Millis{T: &e.StartedAt}, sqltime.Millis{T: &e.UpdatedAt}, sqltime.Millis{T: &e.FinishedAt},
		&e.Done, &e.Total, &e.Attempt, &removed, &files, &e.Error)
	if err != nil {
		return e, err
	}
	e.Field, e.Status, e.DeleteFiles = usage.ErasureField(field), usage.ErasureStatus(status), deleteFiles != 0
	if err := json.Unmarshal([]byte(creator), &e.Creator); err != nil {
		return e, fmt.Errorf("erasure %s creator: %w", e.ID, err)
	}
	if err := json.Unmarshal([]byte(removed), &e.Removed); err != nil {
		return e, fmt.Errorf("erasure %s removed: %w", e.ID, err)
	}
	if err := json.Unmarshal([]byte(files), &e.Files); err != nil {
		return e, fmt.Errorf("erasure %s files: %w", e.ID, err)
	}
	return e, nil
}

// CreateErasure records a queued erasure.
func (s *Store) CreateErasure(ctx context.Context, e *usage.Erasure) error {
	creator, err := json.Marshal(e.Creator)
	if err != nil {
		return fmt.Errorf("meta: create erasure: %w", err)
	}
	if _, err := s.exec(ctx, `INSERT INTO erasures (id, workspace_id, field, value, hash, reason, delete_files, status, creator, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.WorkspaceID, string(e.Field), e.Value, e.Hash, e.Reason, boolInt(e.DeleteFiles), string(usage.ErasureQueued), string(creator),
		sqltime.ToMillis(e.CreatedAt)); err != nil {
		return fmt.Errorf("meta: create erasure: %w", err)
	}
	return nil
}

// Erasure returns one of the workspace's erasures; ENotFound when it has
// none of that id.
func (s *Store) Erasure(ctx context.Context, workspaceID int64, id string) (usage.Erasure, error) {
	e, err := scanErasure(s.queryRow(ctx, `SELECT `+erasureColumns+` FROM erasures WHERE workspace_id = ? AND id = ?`, workspaceID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, usage.Errorf(usage.ENotFound, "no erasure %q", id)
	}
	if err != nil {
		return e, fmt.Errorf("meta: erasure: %w", err)
	}
	return e, nil
}

// Erasures lists the workspace's erasures, newest first.
func (s *Store) Erasures(ctx context.Context, workspaceID int64, limit int) ([]usage.Erasure, error) {
	rows, err := s.query(ctx, `SELECT `+erasureColumns+` FROM erasures WHERE workspace_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, workspaceID, limit)
	if err != nil {
		return nil, fmt.Errorf("meta: erasures: %w", err)
	}
	defer rows.Close()
	var out []usage.Erasure
	for rows.Next() {
		e, err := scanErasure(rows)
		if err != nil {
			return nil, fmt.Errorf("meta: erasures: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ClaimErasure takes the oldest due erasure: a queued one, or a running
// one whose heartbeat is older than staleBefore (its process stopped). The
// UPDATE checks the row it claims again, so two processes never take the
// same erasure; ok is false when none is due.
func (s *Store) ClaimErasure(ctx context.Context, now, staleBefore time.Time) (e usage.Erasure, ok bool, err error) {
	const due = `(status = 'queued' OR (status = 'running' AND updated_at < ?))`
	at, stale := sqltime.ToMillis(now), sqltime.ToMillis(staleBefore)
	e, err = scanErasure(s.queryRowW(ctx, `UPDATE erasures SET status = 'running', attempt = attempt + 1,
			started_at = CASE WHEN started_at = 0 THEN ? ELSE started_at END, updated_at = ?
		WHERE id = (SELECT id FROM erasures WHERE `+due+` ORDER BY created_at, id LIMIT 1) AND `+due+`
		RETURNING `+erasureColumns, at, at, stale, stale))
	if errors.Is(err, sql.ErrNoRows) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("meta: claim erasure: %w", err)
	}
	return e, true, nil
}

// ErasureProgress records a running erasure's progress and heartbeat.
func (s *Store) ErasureProgress(ctx context.Context, id string, done, total int64, at time.Time) error {
	if _, err := s.exec(ctx, `UPDATE erasures SET done = ?, total = ?, updated_at = ? WHERE id = ? AND status = 'running'`,
		done, total, sqltime.ToMillis(at), id); err != nil {
		return fmt.Errorf("meta: erasure progress: %w", err)
	}
	return nil
}

// FinishErasure records an erasure's end: its status, receipt and error;
// the matched value is forgotten.
func (s *Store) FinishErasure(ctx context.Context, e *usage.Erasure) error {
	removed, err := json.Marshal(e.Removed)
	if err != nil {
		return fmt.Errorf("meta: finish erasure: %w", err)
	}
	files := []byte("[]")
	if len(e.Files) > 0 {
		if files, err = json.Marshal(e.Files); err != nil {
			return fmt.Errorf("meta: finish erasure: %w", err)
		}
	}
	at := sqltime.ToMillis(e.FinishedAt)
	if _, err := s.exec(ctx, `UPDATE erasures SET status = ?, value = '', removed = ?, files = ?, error = ?, done = ?, total = ?,
			finished_at = ?, updated_at = ? WHERE id = ?`,
		string(e.Status), string(removed), string(files), e.Error, e.Done, e.Total, at, at, e.ID); err != nil {
		return fmt.Errorf("meta: finish erasure: %w", err)
	}
	return nil
}
