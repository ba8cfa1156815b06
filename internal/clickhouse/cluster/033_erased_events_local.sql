-- The ids of erased events, as on one server (../migrations/081).
CREATE TABLE IF NOT EXISTS {db}.erased_events_local {on_cluster} (
    workspace_id Int64,
    id String,
    erasure_id String,
    kind Int64,
    time_ms Int64
)
ENGINE = {replicated}ReplacingMergeTree({zk:erased_events_local})
ORDER BY (workspace_id, id)
