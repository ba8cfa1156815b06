CREATE TABLE workspaces (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    name         TEXT    NOT NULL,
    scopes       TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    revoked_at   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_workspace ON api_keys(workspace_id);

-- One table for every kind: a kind fills its own columns and leaves the
-- rest at their defaults, which SQLite stores in a byte each.
CREATE TABLE events (
    workspace_id INTEGER NOT NULL,
    id           TEXT    NOT NULL,
    kind         INTEGER NOT NULL,
    time_ms      INTEGER NOT NULL,

    method          TEXT    NOT NULL DEFAULT '',
    url             TEXT    NOT NULL DEFAULT '',
    endpoint        TEXT    NOT NULL DEFAULT '',
    status          INTEGER NOT NULL DEFAULT 0,
    gateway_code    INTEGER NOT NULL DEFAULT 0,
    status_details  TEXT    NOT NULL DEFAULT '',
    community       TEXT    NOT NULL DEFAULT '',
    collection      TEXT    NOT NULL DEFAULT '',
    collection_type TEXT    NOT NULL DEFAULT '',
    client          TEXT    NOT NULL DEFAULT '',
    member_id       TEXT    NOT NULL DEFAULT '',
    member_name     TEXT    NOT NULL DEFAULT '',
    ip              TEXT    NOT NULL DEFAULT '',
    user_agent      TEXT    NOT NULL DEFAULT '',
    timing_ms       INTEGER NOT NULL DEFAULT 0,
    delay_ms        INTEGER NOT NULL DEFAULT 0,
    job_url         TEXT    NOT NULL DEFAULT '',
    client_class    TEXT    NOT NULL DEFAULT '',
    usage_type      TEXT    NOT NULL DEFAULT '',

    user_id       TEXT    NOT NULL DEFAULT '',
    user_email    TEXT    NOT NULL DEFAULT '',
    user_name     TEXT    NOT NULL DEFAULT '',
    feature       TEXT    NOT NULL DEFAULT '',
    assistant_id  TEXT    NOT NULL DEFAULT '',
    assistant     TEXT    NOT NULL DEFAULT '',
    workflow_id   TEXT    NOT NULL DEFAULT '',
    workflow      TEXT    NOT NULL DEFAULT '',
    project_id    TEXT    NOT NULL DEFAULT '',
    project       TEXT    NOT NULL DEFAULT '',
    model         TEXT    NOT NULL DEFAULT '',
    api_key       TEXT    NOT NULL DEFAULT '',
    messages      INTEGER NOT NULL DEFAULT 0,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,

    integration            TEXT    NOT NULL DEFAULT '',
    system1                TEXT    NOT NULL DEFAULT '',
    system2                TEXT    NOT NULL DEFAULT '',
    project1               TEXT    NOT NULL DEFAULT '',
    project2               TEXT    NOT NULL DEFAULT '',
    end_system             TEXT    NOT NULL DEFAULT '',
    entity_type            TEXT    NOT NULL DEFAULT '',
    entity_id              TEXT    NOT NULL DEFAULT '',
    integration_status     TEXT    NOT NULL DEFAULT '',
    integration_updated_ms INTEGER NOT NULL DEFAULT 0,
    outcome                TEXT    NOT NULL DEFAULT '',

    system          TEXT    NOT NULL DEFAULT '',
    email           TEXT    NOT NULL DEFAULT '',
    username        TEXT    NOT NULL DEFAULT '',
    display_name    TEXT    NOT NULL DEFAULT '',
    interaction     TEXT    NOT NULL DEFAULT '',
    service_account INTEGER NOT NULL DEFAULT 0
);
-- Re-sent ids are duplicates: INSERT OR IGNORE against this index.
CREATE UNIQUE INDEX events_workspace_id ON events(workspace_id, id);
-- Serves every (workspace, kind, time) scan, and keyset pages in both
-- directions.
CREATE INDEX events_workspace_kind_time ON events(workspace_id, kind, time_ms, id);
