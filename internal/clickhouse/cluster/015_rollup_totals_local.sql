CREATE TABLE IF NOT EXISTS {db}.rollup_totals_local {on_cluster} (
    workspace_id Int64,
    bucket_ms Int64,
    calls UInt64,
    errors UInt64,
    mcp UInt64
)
ENGINE = {replicated}SummingMergeTree({zk:rollup_totals_local})
PARTITION BY toYYYYMM(toDateTime(intDiv(bucket_ms, 1000)))
ORDER BY (workspace_id, bucket_ms)
