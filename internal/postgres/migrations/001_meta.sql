-- usagelog's metadata on PostgreSQL: the tables of the SQLite file's
-- metadata, times as Unix milliseconds (BIGINT) so that one SQL serves both.
CREATE TABLE workspaces (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT   PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    name         TEXT   NOT NULL,
    scopes       TEXT   NOT NULL,
    hash         TEXT   NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL DEFAULT 0,
    revoked_at   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_workspace ON api_keys(workspace_id);

CREATE TABLE members (
    id            TEXT   PRIMARY KEY,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id),
    email         TEXT   NOT NULL UNIQUE,
    password_hash TEXT   NOT NULL,
    role          TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX members_workspace ON members(workspace_id);

CREATE TABLE sessions (
    hash       TEXT   PRIMARY KEY,
    member_id  TEXT   NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    csrf       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires ON sessions(expires_at);

CREATE TABLE workspace_settings (
    workspace_id     BIGINT  PRIMARY KEY REFERENCES workspaces(id),
    anonymize_users  BOOLEAN NOT NULL DEFAULT false,
    anonymize_ips    BOOLEAN NOT NULL DEFAULT false,
    timezone         TEXT    NOT NULL DEFAULT 'UTC',
    export_row_limit BIGINT  NOT NULL DEFAULT 0
);

CREATE TABLE export_jobs (
    id           TEXT   PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id),
    spec         TEXT   NOT NULL,
    status       TEXT   NOT NULL,
    rows_written BIGINT NOT NULL DEFAULT 0,
    rows_total   BIGINT NOT NULL DEFAULT -1,
    created_by   TEXT   NOT NULL DEFAULT '',
    schedule_id  TEXT   NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    started_at   BIGINT NOT NULL DEFAULT 0,
    finished_at  BIGINT NOT NULL DEFAULT 0,
    heartbeat_at BIGINT NOT NULL DEFAULT 0,
    file_path    TEXT   NOT NULL DEFAULT '',
    record_count BIGINT NOT NULL DEFAULT 0,
    error        TEXT   NOT NULL DEFAULT '',
    expires_at   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX export_jobs_workspace ON export_jobs(workspace_id, created_at DESC);
CREATE INDEX export_jobs_active ON export_jobs(status, created_at) WHERE status IN ('queued', 'running');

CREATE TABLE export_schedules (
    id             TEXT   PRIMARY KEY,
    workspace_id   BIGINT NOT NULL REFERENCES workspaces(id),
    name           TEXT   NOT NULL,
    spec           TEXT   NOT NULL,
    range_name     TEXT   NOT NULL,
    cadence        TEXT   NOT NULL,
    retention_days BIGINT NOT NULL DEFAULT 0,
    webhook_url    TEXT   NOT NULL DEFAULT '',
    webhook_secret TEXT   NOT NULL DEFAULT '',
    created_by     TEXT   NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    next_run       BIGINT NOT NULL,
    last_run       BIGINT NOT NULL DEFAULT 0,
    last_job_id    TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX export_schedules_workspace ON export_schedules(workspace_id, created_at);
CREATE INDEX export_schedules_next_run ON export_schedules(next_run);

CREATE TABLE collections (
    id           TEXT    PRIMARY KEY,
    workspace_id BIGINT  NOT NULL REFERENCES workspaces(id),
    name         TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    community    TEXT    NOT NULL DEFAULT '',
    endpoints    TEXT    NOT NULL DEFAULT '',
    active       BOOLEAN NOT NULL DEFAULT true,
    created_at   BIGINT  NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE gateway_clients (
    id            TEXT   PRIMARY KEY,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id),
    collection_id TEXT   NOT NULL REFERENCES collections(id),
    name          TEXT   NOT NULL,
    hash          TEXT   NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX gateway_clients_workspace ON gateway_clients(workspace_id, collection_id);

-- The secret every replica signs download links and pseudonyms with.
CREATE TABLE server_secret (
    id     INT   PRIMARY KEY CHECK (id = 1),
    secret BYTEA NOT NULL
);
