CREATE TABLE members (
    id            TEXT    PRIMARY KEY,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id),
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX members_workspace ON members(workspace_id);

CREATE TABLE sessions (
    hash       TEXT    PRIMARY KEY,
    member_id  TEXT    NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expires ON sessions(expires_at);

CREATE TABLE workspace_settings (
    workspace_id     INTEGER PRIMARY KEY REFERENCES workspaces(id),
    anonymize_users  INTEGER NOT NULL DEFAULT 0,
    anonymize_ips    INTEGER NOT NULL DEFAULT 0,
    timezone         TEXT    NOT NULL DEFAULT 'UTC',
    export_row_limit INTEGER NOT NULL DEFAULT 0
);
