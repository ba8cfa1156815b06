-- The calls of each combination of the filterable fields and status, per
-- UTC day: pick-lists, top clients and a filtered summary's dimensions
-- over whole days (rollup_hours holds about 24 times the rows).
CREATE TABLE IF NOT EXISTS rollup_days (
    workspace_id Int64,
    bucket_ms Int64,
    status Int64,
    client String,
    collection String,
    collection_type String,
    community String,
    usage_type String,
    calls UInt64
)
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(bucket_ms, 1000)))
ORDER BY (workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type)
