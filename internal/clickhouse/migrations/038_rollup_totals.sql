-- Every call per quarter hour (UTC), without timings: the series of an
-- unfiltered summary reads a row a quarter hour (8,640 for 90 days), not
-- one a quarter hour and timing bucket from rollup_series.
CREATE TABLE IF NOT EXISTS rollup_totals (
    workspace_id Int64,
    bucket_ms Int64,
    calls UInt64,
    errors UInt64,
    mcp UInt64
)
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(bucket_ms, 1000)))
ORDER BY (workspace_id, bucket_ms)
