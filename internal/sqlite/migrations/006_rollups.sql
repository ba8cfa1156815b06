-- Rollups of api_request events, written in the transaction that stores
-- the events (summaries.go), so that summaries never re-read the events.
-- Times are the start of the rollup's grain in Unix milliseconds (UTC);
-- deleting a workspace's events before a day deletes its rows before it.

-- Every call, per quarter hour: the overview's series, totals and p95.
-- timing is an encoded histogram of timing_ms (internal/summary).
CREATE TABLE rollup_series (
    workspace_id INTEGER NOT NULL,
    bucket_ms    INTEGER NOT NULL,
    calls        INTEGER NOT NULL,
    errors       INTEGER NOT NULL,
    mcp          INTEGER NOT NULL,
    timing       BLOB    NOT NULL,
    PRIMARY KEY (workspace_id, bucket_ms)
) WITHOUT ROWID;

-- The calls of each value of status (dim 0), client (1), collection (2)
-- and community (3), per hour and per day: pick-lists and top clients.
CREATE TABLE rollup_dims (
    workspace_id INTEGER NOT NULL,
    grain_ms     INTEGER NOT NULL,
    bucket_ms    INTEGER NOT NULL,
    dim          INTEGER NOT NULL,
    value        TEXT    NOT NULL,
    calls        INTEGER NOT NULL,
    errors       INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, grain_ms, bucket_ms, dim, value)
) WITHOUT ROWID;

-- The calls of each combination of the filterable fields, per quarter
-- hour: filtered summaries, and the quarter hours at a window's edges.
CREATE TABLE rollup_calls (
    workspace_id    INTEGER NOT NULL,
    bucket_ms       INTEGER NOT NULL,
    status          INTEGER NOT NULL,
    client          TEXT    NOT NULL,
    collection      TEXT    NOT NULL,
    collection_type TEXT    NOT NULL,
    community       TEXT    NOT NULL,
    usage_type      TEXT    NOT NULL,
    calls           INTEGER NOT NULL,
    timing          BLOB    NOT NULL,
    PRIMARY KEY (workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type)
) WITHOUT ROWID;
