-- The calls of each value of status (dim 0), client (1), collection (2)
-- and community (3), per hour and per day: pick-lists and top clients.
CREATE TABLE IF NOT EXISTS rollup_dims (
    workspace_id Int64,
    grain_ms Int64,
    bucket_ms Int64,
    dim Int64,
    value String,
    calls UInt64,
    errors UInt64
)
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(bucket_ms, 1000)))
ORDER BY (workspace_id, grain_ms, bucket_ms, dim, value)
