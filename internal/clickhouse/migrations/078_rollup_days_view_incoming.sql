-- The view of rollup_days as before, on rollup_incoming (066): it runs when
-- the buffer flushes, not in the insert.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_days_view TO rollup_days_buffer AS
SELECT workspace_id, (intDiv(time_ms, 86400000) * 86400000 - if(time_ms % 86400000 < 0, 86400000, 0)) AS bucket_ms,
    status, client, collection, collection_type, community, usage_type, count() AS calls
FROM rollup_incoming
GROUP BY workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type
