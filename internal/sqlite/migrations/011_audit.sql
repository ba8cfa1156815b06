-- The audit log: who did what, appended and never changed; purged past
-- the audit retention. Read newest first per workspace.
CREATE TABLE audit_log (
    id           TEXT    PRIMARY KEY,
    workspace_id INTEGER NOT NULL,
    time_ms      INTEGER NOT NULL,
    actor_type   TEXT    NOT NULL,
    actor_id     TEXT    NOT NULL,
    actor_name   TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    target       TEXT    NOT NULL,
    ip           TEXT    NOT NULL,
    details      TEXT    NOT NULL
);
CREATE INDEX audit_log_workspace ON audit_log(workspace_id, time_ms DESC, id DESC);
