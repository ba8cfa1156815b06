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

const jobColumns = `id, workspace_id, spec, status, rows_written, rows_total, created_by, schedule_id,
	created_at, started_at, finished_at, heartbeat_at, file_path, record_count, error, expires_at, webhook, creator_type, creator_id`

func scanJob(row scanner) (usage.ExportJob, error) {
	var j usage.ExportJob
	var spec string
	var created, started, finished, beat, expires int64
	if err := row.Scan(&j.ID, &j.WorkspaceID, &spec, &j.Status, &j.RowsWritten, &j.RowsTotal, &j.CreatedBy, &j.ScheduleID,
		&created, &started, &finished, &beat, &j.FilePath, &j.RecordCount, &j.Error, &expires, &j.Webhook, &j.Creator.Type, &j.Creator.ID); err != nil {
		return j, err
	}
	if err := json.Unmarshal([]byte(spec), &j.Spec); err != nil {
		return j, fmt.Errorf("job %s: spec: %w", j.ID, err)
	}
	j.Creator.Name = j.CreatedBy
	j.CreatedAt, j.StartedAt, j.FinishedAt, j.Heartbeat, j.ExpiresAt = sqltime.FromMillis(created), sqltime.FromMillis(started), sqltime.FromMillis(finished), sqltime.FromMillis(beat), sqltime.FromMillis(expires)
	return j, nil
}

func (s *Store) queryJobs(ctx context.Context, db *sql.DB, query string, args ...any) ([]usage.ExportJob, error) {
	rows, err := db.QueryContext(ctx, s.rebind(query), args...)
	return collect(rows, err, scanJob)
}

// CreateJob stores a new job.
func (s *Store) CreateJob(ctx context.Context, j *usage.ExportJob) error {
	spec, err := json.Marshal(j.Spec)
	if err != nil {
		return fmt.Errorf("meta: create job: %w", err)
	}
	_, err = s.exec(ctx, `INSERT INTO export_jobs (id, workspace_id, spec, status, rows_total, created_by, schedule_id, created_at, expires_at, creator_type, creator_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.ID, j.WorkspaceID, string(spec), j.Status, j.RowsTotal, j.CreatedBy, j.ScheduleID, sqltime.ToMillis(j.CreatedAt), sqltime.ToMillis(j.ExpiresAt), j.Creator.Type, j.Creator.ID)
	if err != nil {
		return fmt.Errorf("meta: create job: %w", err)
	}
	return nil
}

// Job returns one of the workspace's jobs.
func (s *Store) Job(ctx context.Context, workspaceID int64, id string) (usage.ExportJob, error) {
	j, err := scanJob(s.queryRow(ctx, `SELECT `+jobColumns+` FROM export_jobs WHERE workspace_id = ? AND id = ?`, workspaceID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return j, usage.Errorf(usage.ENotFound, "export job %q not found", id)
	}
	if err != nil {
		return j, fmt.Errorf("meta: job: %w", err)
	}
	return j, nil
}

// Jobs lists the workspace's jobs, newest first.
func (s *Store) Jobs(ctx context.Context, workspaceID int64, limit int) ([]usage.ExportJob, error) {
	out, err := s.queryJobs(ctx, s.read, `SELECT `+jobColumns+` FROM export_jobs WHERE workspace_id = ?
		ORDER BY created_at DESC, id DESC LIMIT ?`, workspaceID, limit)
	if err != nil {
		return nil, fmt.Errorf("meta: jobs: %w", err)
	}
	return out, nil
}

// ClaimJob takes the oldest queued job of a workspace below its limit.
// SQLite has one writer: the UPDATE … RETURNING is the claim. PostgreSQL
// has many (replicas): see claimShared.
func (s *Store) ClaimJob(ctx context.Context, now time.Time, perWorkspace int) (usage.ExportJob, error) {
	if s.d.Numbered {
		return s.claimShared(ctx, now, perWorkspace)
	}
	j, err := scanJob(s.queryRowW(ctx, `
		UPDATE export_jobs SET status = 'running', started_at = ?1, heartbeat_at = ?1
		WHERE id = (
			SELECT q.id FROM export_jobs q WHERE q.status = 'queued'
			  AND (SELECT count(*) FROM export_jobs r WHERE r.status = 'running' AND r.workspace_id = q.workspace_id) < ?2
			ORDER BY q.created_at, q.id LIMIT 1)
		RETURNING `+jobColumns, sqltime.ToMillis(now), perWorkspace))
	if errors.Is(err, sql.ErrNoRows) {
		return j, usage.Errorf(usage.ENotFound, "no queued job")
	}
	if err != nil {
		return j, fmt.Errorf("meta: claim job: %w", err)
	}
	return j, nil
}

// claimLock keys the advisory locks that serialize claims per workspace.
const claimLock = 7_405_002

// claimShared claims on a database that replicas share. Queued jobs are
// locked FOR UPDATE SKIP LOCKED, so two replicas never take the same one;
// a transaction-scoped advisory lock on the job's workspace makes the count
// of its running jobs and the claim one step, so replicas together respect
// the per-workspace limit.
func (s *Store) claimShared(ctx context.Context, now time.Time, perWorkspace int) (usage.ExportJob, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return usage.ExportJob{}, fmt.Errorf("meta: claim job: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id, workspace_id FROM export_jobs WHERE status = 'queued'
		ORDER BY created_at, id LIMIT 32 FOR UPDATE SKIP LOCKED`)
	if err != nil {
		return usage.ExportJob{}, fmt.Errorf("meta: claim job: %w", err)
	}
	type candidate struct {
		id string
		ws int64
	}
	var cands []candidate
	for rows.Next() {
		var c candidate
		if err := rows.Scan(&c.id, &c.ws); err != nil {
			rows.Close()
			return usage.ExportJob{}, fmt.Errorf("meta: claim job: %w", err)
		}
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return usage.ExportJob{}, fmt.Errorf("meta: claim job: %w", err)
	}
	for _, c := range cands {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2::int)`, claimLock, c.ws); err != nil {
			return usage.ExportJob{}, fmt.Errorf("meta: claim job: %w", err)
		}
		var running int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM export_jobs WHERE status = 'running' AND workspace_id = $1`, c.ws).Scan(&running); err != nil {
			return usage.ExportJob{}, fmt.Errorf("meta: claim job: %w", err)
		}
		if running >= perWorkspace {
			continue
		}
		j, err := scanJob(tx.QueryRowContext(ctx, `UPDATE export_jobs SET status = 'running', started_at = $1, heartbeat_at = $1
			WHERE id = $2 RETURNING `+jobColumns, sqltime.ToMillis(now), c.id))
		if err != nil {
			return usage.ExportJob{}, fmt.Errorf("meta: claim job: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return usage.ExportJob{}, fmt.Errorf("meta: claim job: %w", err)
		}
		return j, nil
	}
	return usage.ExportJob{}, usage.Errorf(usage.ENotFound, "no queued job")
}

// JobProgress records a running job's rows and heartbeat.
func (s *Store) JobProgress(ctx context.Context, id string, rows, total int64, now time.Time) (bool, error) {
	r, err := s.exec(ctx, `UPDATE export_jobs SET rows_written = ?, rows_total = ?, heartbeat_at = ?
		WHERE id = ? AND status = 'running'`, rows, total, sqltime.ToMillis(now), id)
	if err != nil {
		return false, fmt.Errorf("meta: job progress: %w", err)
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

// FinishJob records a running job's end.
func (s *Store) FinishJob(ctx context.Context, j usage.ExportJob) (bool, error) {
	r, err := s.exec(ctx, `UPDATE export_jobs SET status = ?, rows_written = ?, rows_total = ?, finished_at = ?,
		heartbeat_at = ?, file_path = ?, record_count = ?, error = ?, expires_at = ?
		WHERE id = ? AND status = 'running'`,
		j.Status, j.RowsWritten, j.RowsTotal, sqltime.ToMillis(j.FinishedAt), sqltime.ToMillis(j.FinishedAt), j.FilePath, j.RecordCount, j.Error, sqltime.ToMillis(j.ExpiresAt), j.ID)
	if err != nil {
		return false, fmt.Errorf("meta: finish job: %w", err)
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

// CancelJob cancels a queued or running job.
func (s *Store) CancelJob(ctx context.Context, workspaceID int64, id string, now time.Time) (usage.ExportJob, error) {
	if _, err := s.exec(ctx, `UPDATE export_jobs SET status = 'cancelled', finished_at = ?, error = 'cancelled by request'
		WHERE workspace_id = ? AND id = ? AND status IN ('queued', 'running')`, sqltime.ToMillis(now), workspaceID, id); err != nil {
		return usage.ExportJob{}, fmt.Errorf("meta: cancel job: %w", err)
	}
	return s.Job(ctx, workspaceID, id)
}

// FailStaleJobs fails running jobs whose runner stopped beating.
func (s *Store) FailStaleJobs(ctx context.Context, before, now time.Time, reason string) ([]usage.ExportJob, error) {
	out, err := s.queryJobs(ctx, s.write, `UPDATE export_jobs SET status = 'failed', finished_at = ?, error = ?
		WHERE status = 'running' AND heartbeat_at < ? RETURNING `+jobColumns, sqltime.ToMillis(now), reason, sqltime.ToMillis(before))
	if err != nil {
		return nil, fmt.Errorf("meta: fail stale jobs: %w", err)
	}
	return out, nil
}

// ExpiredJobFiles returns the jobs whose file expired.
func (s *Store) ExpiredJobFiles(ctx context.Context, now time.Time) ([]usage.ExportJob, error) {
	out, err := s.queryJobs(ctx, s.read, `SELECT `+jobColumns+` FROM export_jobs
		WHERE expires_at > 0 AND expires_at <= ? AND file_path != ''`, sqltime.ToMillis(now))
	if err != nil {
		return nil, fmt.Errorf("meta: expired job files: %w", err)
	}
	return out, nil
}

// RecordWebhook records what became of a job's webhook.
func (s *Store) RecordWebhook(ctx context.Context, id, outcome string) error {
	if _, err := s.exec(ctx, `UPDATE export_jobs SET webhook = ? WHERE id = ?`, outcome, id); err != nil {
		return fmt.Errorf("meta: record webhook: %w", err)
	}
	return nil
}

// ForgetJobFile clears a job's file path once its file is gone.
func (s *Store) ForgetJobFile(ctx context.Context, id string) error {
	if _, err := s.exec(ctx, `UPDATE export_jobs SET file_path = '' WHERE id = ?`, id); err != nil {
		return fmt.Errorf("meta: forget job file: %w", err)
	}
	return nil
}

const scheduleColumns = `id, workspace_id, name, spec, range_name, cadence, retention_days, webhook_url, webhook_secret,
	created_by, created_at, next_run, last_run, last_job_id`

func scanSchedule(row scanner) (usage.Schedule, error) {
	var sc usage.Schedule
	var spec, cadence string
	var created, next, last int64
	if err := row.Scan(&sc.ID, &sc.WorkspaceID, &sc.Name, &spec, &sc.Range, &cadence, &sc.RetentionDays, &sc.WebhookURL,
		&sc.WebhookSecret, &sc.CreatedBy, &created, &next, &last, &sc.LastJobID); err != nil {
		return sc, err
	}
	if err := json.Unmarshal([]byte(spec), &sc.Spec); err != nil {
		return sc, fmt.Errorf("schedule %s: spec: %w", sc.ID, err)
	}
	if err := json.Unmarshal([]byte(cadence), &sc.Cadence); err != nil {
		return sc, fmt.Errorf("schedule %s: cadence: %w", sc.ID, err)
	}
	sc.CreatedAt, sc.NextRun, sc.LastRun = sqltime.FromMillis(created), sqltime.FromMillis(next), sqltime.FromMillis(last)
	return sc, nil
}

func (s *Store) querySchedules(ctx context.Context, query string, args ...any) ([]usage.Schedule, error) {
	rows, err := s.query(ctx, query, args...)
	return collect(rows, err, scanSchedule)
}

// CreateSchedule stores a new schedule.
func (s *Store) CreateSchedule(ctx context.Context, sc *usage.Schedule) error {
	spec, err := json.Marshal(sc.Spec)
	if err != nil {
		return fmt.Errorf("meta: create schedule: %w", err)
	}
	cadence, err := json.Marshal(sc.Cadence)
	if err != nil {
		return fmt.Errorf("meta: create schedule: %w", err)
	}
	_, err = s.exec(ctx, `INSERT INTO export_schedules (id, workspace_id, name, spec, range_name, cadence,
		retention_days, webhook_url, webhook_secret, created_by, created_at, next_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sc.ID, sc.WorkspaceID, sc.Name, string(spec), sc.Range, string(cadence), sc.RetentionDays, sc.WebhookURL,
		sc.WebhookSecret, sc.CreatedBy, sqltime.ToMillis(sc.CreatedAt), sqltime.ToMillis(sc.NextRun))
	if err != nil {
		return fmt.Errorf("meta: create schedule: %w", err)
	}
	return nil
}

// Schedule returns one of the workspace's schedules.
func (s *Store) Schedule(ctx context.Context, workspaceID int64, id string) (usage.Schedule, error) {
	sc, err := scanSchedule(s.queryRow(ctx, `SELECT `+scheduleColumns+` FROM export_schedules WHERE workspace_id = ? AND id = ?`, workspaceID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return sc, usage.Errorf(usage.ENotFound, "schedule %q not found", id)
	}
	if err != nil {
		return sc, fmt.Errorf("meta: schedule: %w", err)
	}
	return sc, nil
}

// Schedules lists the workspace's schedules, oldest first.
func (s *Store) Schedules(ctx context.Context, workspaceID int64) ([]usage.Schedule, error) {
	out, err := s.querySchedules(ctx, `SELECT `+scheduleColumns+` FROM export_schedules WHERE workspace_id = ? ORDER BY created_at, id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("meta: schedules: %w", err)
	}
	return out, nil
}

// DeleteSchedule deletes a schedule; its past jobs stay.
func (s *Store) DeleteSchedule(ctx context.Context, workspaceID int64, id string) error {
	r, err := s.exec(ctx, `DELETE FROM export_schedules WHERE workspace_id = ? AND id = ?`, workspaceID, id)
	if err != nil {
		return fmt.Errorf("meta: delete schedule: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return usage.Errorf(usage.ENotFound, "schedule %q not found", id)
	}
	return nil
}

// DueSchedules returns the schedules due at now.
func (s *Store) DueSchedules(ctx context.Context, now time.Time) ([]usage.Schedule, error) {
	out, err := s.querySchedules(ctx, `SELECT `+scheduleColumns+` FROM export_schedules WHERE next_run <= ? ORDER BY next_run, id`, sqltime.ToMillis(now))
	if err != nil {
		return nil, fmt.Errorf("meta: due schedules: %w", err)
	}
	return out, nil
}

// AdvanceSchedule moves next_run from prev to next, if no one did.
func (s *Store) AdvanceSchedule(ctx context.Context, id string, prev, next, ran time.Time, jobID string) (bool, error) {
	r, err := s.exec(ctx, `UPDATE export_schedules SET next_run = ?, last_run = ?, last_job_id = ?
		WHERE id = ? AND next_run = ?`, sqltime.ToMillis(next), sqltime.ToMillis(ran), jobID, id, sqltime.ToMillis(prev))
	if err != nil {
		return false, fmt.Errorf("meta: advance schedule: %w", err)
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}
