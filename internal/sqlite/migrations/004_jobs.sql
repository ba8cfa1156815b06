-- Export jobs and their schedules. A job's spec (report, format, filters,
-- timezone) is JSON: it is read back whole, never queried.
CREATE TABLE export_jobs (
    id           TEXT    PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    spec         TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    rows_written INTEGER NOT NULL DEFAULT 0,
    rows_total   INTEGER NOT NULL DEFAULT -1,
    created_by   TEXT    NOT NULL DEFAULT '',
    schedule_id  TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    started_at   INTEGER NOT NULL DEFAULT 0,
    finished_at  INTEGER NOT NULL DEFAULT 0,
    heartbeat_at INTEGER NOT NULL DEFAULT 0,
    file_path    TEXT    NOT NULL DEFAULT '',
    record_count INTEGER NOT NULL DEFAULT 0,
    error        TEXT    NOT NULL DEFAULT '',
    expires_at   INTEGER NOT NULL DEFAULT 0
);
-- History pages, newest first.
CREATE INDEX export_jobs_workspace ON export_jobs(workspace_id, created_at DESC);
-- The queue and the running jobs (few rows: finished jobs leave it).
CREATE INDEX export_jobs_active ON export_jobs(status, created_at) WHERE status IN ('queued', 'running');

CREATE TABLE export_schedules (
    id             TEXT    PRIMARY KEY,
    workspace_id   INTEGER NOT NULL REFERENCES workspaces(id),
    name           TEXT    NOT NULL,
    spec           TEXT    NOT NULL,
    range_name     TEXT    NOT NULL,
    cadence        TEXT    NOT NULL,
    retention_days INTEGER NOT NULL DEFAULT 0,
    webhook_url    TEXT    NOT NULL DEFAULT '',
    webhook_secret TEXT    NOT NULL DEFAULT '',
    created_by     TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    next_run       INTEGER NOT NULL,
    last_run       INTEGER NOT NULL DEFAULT 0,
    last_job_id    TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX export_schedules_workspace ON export_schedules(workspace_id, created_at);
CREATE INDEX export_schedules_next_run ON export_schedules(next_run);
