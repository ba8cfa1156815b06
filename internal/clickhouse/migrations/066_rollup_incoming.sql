-- The API calls on their way to the rollups. An insert of events copies
-- the columns the rollups read into rollup_incoming_buffer (067) and
-- nothing more; the buffer hands them to this table about a second later,
-- on ClickHouse's own flush thread, and the views of 074-079 roll them up
-- there, out of the insert's way (BenchmarkIngestHTTPClickHouse). The table
-- keeps nothing (Null): its rows live on only in the rollups. Reads add
-- what still waits in the buffer (rollupFrom).
CREATE TABLE IF NOT EXISTS rollup_incoming (
    workspace_id Int64,
    time_ms Int64,
    status Int64,
    client String,
    collection String,
    collection_type String,
    community String,
    usage_type String,
    timing_ms Int64
)
ENGINE = Null
