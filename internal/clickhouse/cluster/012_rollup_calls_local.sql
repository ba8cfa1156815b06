CREATE TABLE IF NOT EXISTS {db}.rollup_calls_local {on_cluster} (
    workspace_id Int64,
    bucket_ms Int64,
    status Int64,
    client String,
    collection String,
    collection_type String,
    community String,
    usage_type String,
    tb Int64,
    calls UInt64
)
ENGINE = {replicated}SummingMergeTree({zk:rollup_calls_local})
PARTITION BY toYYYYMM(toDateTime(intDiv(bucket_ms, 1000)))
ORDER BY (workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type, tb)
