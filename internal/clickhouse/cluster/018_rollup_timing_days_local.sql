CREATE TABLE IF NOT EXISTS {db}.rollup_timing_days_local {on_cluster} (
    workspace_id Int64,
    bucket_ms Int64,
    tb Int64,
    calls UInt64
)
ENGINE = {replicated}SummingMergeTree({zk:rollup_timing_days_local})
PARTITION BY toYYYYMM(toDateTime(intDiv(bucket_ms, 1000)))
ORDER BY (workspace_id, bucket_ms, tb)
