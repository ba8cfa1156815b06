-- Erasures of a person (usage.Erasure): the request, its progress and its
-- receipt. value holds the matched value while the erasure waits or runs,
-- and is emptied when it ends; hash names it from then on.
CREATE TABLE erasures (
    id           TEXT    PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    field        TEXT    NOT NULL,
    value        TEXT    NOT NULL,
    hash         TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    delete_files INTEGER NOT NULL,
    status       TEXT    NOT NULL,
    creator      TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    started_at   INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL DEFAULT 0,
    finished_at  INTEGER NOT NULL DEFAULT 0,
    done         INTEGER NOT NULL DEFAULT 0,
    total        INTEGER NOT NULL DEFAULT 0,
    attempt      INTEGER NOT NULL DEFAULT 0,
    removed      TEXT    NOT NULL DEFAULT '{}',
    files        TEXT    NOT NULL DEFAULT '[]',
    error        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX erasures_workspace ON erasures (workspace_id, created_at);
CREATE INDEX erasures_status ON erasures (status, created_at);

-- The ids of erased events: ingest counts an event with one of them as a
-- duplicate, so that a client's retry does not bring the person back.
-- Written in the transaction that deletes the event.
CREATE TABLE erased_events (
    workspace_id INTEGER NOT NULL,
    id           TEXT    NOT NULL,
    erasure_id   TEXT    NOT NULL,
    kind         INTEGER NOT NULL,
    time_ms      INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
) WITHOUT ROWID;
CREATE INDEX erased_events_erasure ON erased_events (erasure_id, kind);
