CREATE TABLE IF NOT EXISTS {db}.rollup_values_local {on_cluster} (
    workspace_id Int64,
    dim Int64,
    value String,
    bucket_ms Int64,
    tb Int64,
    calls UInt64,
    errors UInt64
)
ENGINE = {replicated}SummingMergeTree({zk:rollup_values_local})
PARTITION BY toYYYYMM(toDateTime(intDiv(bucket_ms, 1000)))
ORDER BY (workspace_id, dim, value, bucket_ms, tb)
