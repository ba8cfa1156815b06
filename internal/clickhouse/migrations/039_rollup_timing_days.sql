-- Every call per UTC day and timing bucket: the p95 of an unfiltered
-- summary over whole days; the hours at a window's ends come from
-- rollup_series.
CREATE TABLE IF NOT EXISTS rollup_timing_days (
    workspace_id Int64,
    bucket_ms Int64,
    tb Int64,
    calls UInt64
)
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(bucket_ms, 1000)))
ORDER BY (workspace_id, bucket_ms, tb)
