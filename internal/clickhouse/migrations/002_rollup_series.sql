-- Rollups of api_request events (internal/summary), filled by the
-- materialized views of the later migrations as events are inserted.
-- Every call, per quarter hour (UTC) and timing bucket: the overview's
-- series, totals and p95. SummingMergeTree adds up rows of one key as parts
-- merge; reads sum() them, so rows not merged yet count too.
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
