-- The calls of each value of each filterable field alone (dim: 0 status
-- class, 1 status, 2 client, 3 collection, 4 collection type, 5 community,
-- 6 usage type), per UTC hour and timing bucket. A summary filtered on one
-- field reads only its values' rows (the order starts with dim and value):
-- its series and p95 without the other fields' combinations.
CREATE TABLE IF NOT EXISTS rollup_values (
    workspace_id Int64,
    dim Int64,
    value String,
    bucket_ms Int64,
    tb Int64,
    calls UInt64,
    errors UInt64
)
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(bucket_ms, 1000)))
ORDER BY (workspace_id, dim, value, bucket_ms, tb)
