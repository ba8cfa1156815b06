-- Rollups of api_request events become one row an hour, which keeps the
-- cells of each of its quarter hours: a batch of events writes a fifth of
-- the rows it wrote with a row per quarter hour and per hour, and no
-- cell twice. The rows are rolled up again from the events when this
-- migration runs (store.go).
--
-- A row holds three encodings of internal/summary's cells: counts, the
-- calls by combo (rollup_combos) and status; timings, the calls by timing
-- bucket; quarters, the calls by combo, status and timing bucket of each
-- quarter hour (summary.AppendQuarters), which filtered summaries and the
-- quarter hours at a window's edges read. Deleting a workspace's rows
-- before an hour deletes its rollups before it.
DROP TABLE rollups;

CREATE TABLE rollups (
    workspace_id INTEGER NOT NULL,
    hour_ms      INTEGER NOT NULL,
    counts       BLOB    NOT NULL,
    timings      BLOB    NOT NULL,
    quarters     BLOB    NOT NULL,
    PRIMARY KEY (workspace_id, hour_ms)
) WITHOUT ROWID;
