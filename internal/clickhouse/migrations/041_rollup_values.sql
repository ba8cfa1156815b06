-- The calls of each value of the fields a summary is most often filtered
-- on alone (dim: 0 status class, 2 client, 3 collection), per UTC hour and
-- timing bucket. A summary filtered on one of them reads only its values'
-- rows (the order starts with dim and value): its series and p95 without
-- the other fields' combinations. Each field costs ingest a GROUP BY of
-- the insert's rows (BenchmarkIngestHTTPClickHouse); the other fields'
-- filters read rollup_calls.
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
