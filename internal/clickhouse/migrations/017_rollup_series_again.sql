-- See 011: the table as 002 made it.
CREATE TABLE IF NOT EXISTS rollup_series (
    workspace_id Int64,
    bucket_ms Int64,
    tb Int64,
    calls UInt64,
    errors UInt64,
    mcp UInt64
)
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(bucket_ms, 1000)))
ORDER BY (workspace_id, bucket_ms, tb)
