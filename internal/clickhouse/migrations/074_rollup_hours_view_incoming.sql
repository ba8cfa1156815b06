-- The view of rollup_hours as before, on rollup_incoming (066): it runs when
-- the buffer flushes, not in the insert.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_hours_view TO rollup_hours_buffer AS
SELECT workspace_id, (intDiv(time_ms, 3600000) * 3600000 - if(time_ms % 3600000 < 0, 3600000, 0)) AS bucket_ms,
    status, client, collection, collection_type, community, usage_type, count() AS calls
FROM rollup_incoming
GROUP BY workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type
