-- The recording gateway's API collections and the clients allowed through.
CREATE TABLE collections (
    id           TEXT    PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    name         TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    community    TEXT    NOT NULL DEFAULT '',
    endpoints    TEXT    NOT NULL DEFAULT '', -- one pattern a line
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE gateway_clients (
    id            TEXT    PRIMARY KEY,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id),
    collection_id TEXT    NOT NULL REFERENCES collections(id),
    name          TEXT    NOT NULL,
    hash          TEXT    NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX gateway_clients_workspace ON gateway_clients(workspace_id, collection_id);
