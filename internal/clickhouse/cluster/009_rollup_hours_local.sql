-- The rollups of API calls, as on one server (../migrations/038-053 and
-- 074-079), but filled by views on events_local in the insert itself:
-- a Buffer's rows would live in one node's memory, lost with it and
-- unseen by reads through its replica.
CREATE TABLE IF NOT EXISTS {db}.rollup_hours_local {on_cluster} (
    workspace_id Int64,
    bucket_ms Int64,
    status Int64,
    client String,
    collection String,
    collection_type String,
    community String,
    usage_type String,
    calls UInt64
)
ENGINE = {replicated}SummingMergeTree({zk:rollup_hours_local})
PARTITION BY toYYYYMM(toDateTime(intDiv(bucket_ms, 1000)))
ORDER BY (workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type)
