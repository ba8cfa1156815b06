-- Rolls up every insert into events from now on.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_calls_view TO rollup_calls AS
SELECT workspace_id, QUARTER_HOUR(time_ms) AS bucket_ms, status, client, collection, collection_type, community, usage_type,
    TIMING_BUCKET(timing_ms) AS tb, count() AS calls
FROM events WHERE kind = 1
GROUP BY workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type, tb
