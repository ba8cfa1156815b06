-- Rolls up every insert into events from now on, but usagelog's own calls.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_days_view TO rollup_days_buffer AS
SELECT workspace_id, (intDiv(time_ms, 86400000) * 86400000 - if(time_ms % 86400000 < 0, 86400000, 0)) AS bucket_ms,
    status, client, collection, collection_type, community, usage_type, count() AS calls
FROM events WHERE kind = 1 AND collection != 'usagelog API'
GROUP BY workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type
