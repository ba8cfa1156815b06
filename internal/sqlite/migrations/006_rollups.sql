-- Rollups of api_request events, written in the transaction that stores
-- the events (summaries.go), so that summaries never re-read the events.
--
-- A rollup row is one quarter hour or one hour (grain_ms) of a workspace,
-- from bucket_ms (Unix milliseconds, UTC), and holds three sets of cells
-- encoded as internal/summary's cells: counts, the calls of each
-- combination of client, collection, collection type, community and usage
-- type (a combo) and status; timings, the calls of each timing bucket;
-- combo_timings, the calls of each combo, status and timing bucket, which
-- only filtered summaries read. A quarter hour keeps combo_timings alone
-- (the other two NULL): summaries read few quarter hours. One row a bucket keeps a batch's writes to a
-- few rows however many combinations it holds, and a summary reads a row
-- an hour. Deleting a workspace's rows before a time deletes its rollups
-- before it.
CREATE TABLE rollup_combos (
    id              INTEGER PRIMARY KEY,
    workspace_id    INTEGER NOT NULL,
    client          TEXT    NOT NULL,
    collection      TEXT    NOT NULL,
    collection_type TEXT    NOT NULL,
    community       TEXT    NOT NULL,
    usage_type      TEXT    NOT NULL,
    UNIQUE (workspace_id, client, collection, collection_type, community, usage_type)
);

CREATE TABLE rollups (
    workspace_id INTEGER NOT NULL,
    grain_ms     INTEGER NOT NULL,
    bucket_ms    INTEGER NOT NULL,
    counts        BLOB,
    timings       BLOB,
    combo_timings BLOB   NOT NULL,
    PRIMARY KEY (workspace_id, grain_ms, bucket_ms)
) WITHOUT ROWID;

-- Sync events per day (UTC) and group, for the seed 003 usage reports and
-- the Licenses page: events, successful syncs, the latest of each, and the
-- integration's status at the day's latest event of the group.
CREATE TABLE sync_rollups (
    workspace_id    INTEGER NOT NULL,
    day_ms          INTEGER NOT NULL,
    integration     TEXT    NOT NULL,
    system1         TEXT    NOT NULL,
    system2         TEXT    NOT NULL,
    project1        TEXT    NOT NULL,
    project2        TEXT    NOT NULL,
    end_system      TEXT    NOT NULL,
    entity_type     TEXT    NOT NULL,
    events          INTEGER NOT NULL,
    synced          INTEGER NOT NULL,
    last_synced_ms  INTEGER,
    last_updated_ms INTEGER NOT NULL,
    status          TEXT    NOT NULL,
    status_ms       INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, day_ms, integration, system1, system2, project1, project2, end_system, entity_type)
) WITHOUT ROWID;
