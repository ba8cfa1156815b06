-- See 011: the table as 003 made it.
CREATE TABLE IF NOT EXISTS rollup_hours (
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
