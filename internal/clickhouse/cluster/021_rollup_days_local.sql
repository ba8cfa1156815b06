CREATE TABLE IF NOT EXISTS {db}.rollup_days_local {on_cluster} (
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
ENGINE = {replicated}SummingMergeTree({zk:rollup_days_local})
PARTITION BY toYYYYMM(toDateTime(intDiv(bucket_ms, 1000)))
ORDER BY (workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type)
