-- Erasures of a person (usage.Erasure): the request, its progress and its
-- receipt. value holds the matched value while the erasure waits or runs,
-- and is emptied when it ends; hash names it from then on.
CREATE TABLE erasures (
    id           TEXT    PRIMARY KEY,
    workspace_id BIGINT  NOT NULL REFERENCES workspaces(id),
    field        TEXT    NOT NULL,
    value        TEXT    NOT NULL,
    hash         TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    delete_files INTEGER NOT NULL,
    status       TEXT    NOT NULL,
    creator      TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    started_at   BIGINT  NOT NULL DEFAULT 0,
    updated_at   BIGINT  NOT NULL DEFAULT 0,
    finished_at  BIGINT  NOT NULL DEFAULT 0,
    done         BIGINT  NOT NULL DEFAULT 0,
    total        BIGINT  NOT NULL DEFAULT 0,
    attempt      BIGINT  NOT NULL DEFAULT 0,
    removed      TEXT    NOT NULL DEFAULT '{}',
    files        TEXT    NOT NULL DEFAULT '[]',
    error        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX erasures_workspace ON erasures (workspace_id, created_at);
CREATE INDEX erasures_status ON erasures (status, created_at);
