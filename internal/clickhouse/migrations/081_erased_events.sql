-- The ids of erased events (usagelog erasures): Append counts an event
-- with one of them as a duplicate, so that a client's retry does not
-- bring the person back. An erasure that is taken up again inserts its
-- ids again: the engine keeps one row of each, and readers count
-- distinct ids.
CREATE TABLE IF NOT EXISTS erased_events (
    workspace_id Int64,
    id String,
    erasure_id String,
    kind Int64,
    time_ms Int64
)
ENGINE = ReplacingMergeTree()
ORDER BY (workspace_id, id)
