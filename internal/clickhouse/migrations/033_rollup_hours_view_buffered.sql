-- See 026: the view as 024 made it, into the buffer.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_hours_view TO rollup_hours_buffer AS
SELECT workspace_id, (intDiv(time_ms, 3600000) * 3600000 - if(time_ms % 3600000 < 0, 3600000, 0)) AS bucket_ms,
    status, client, collection, collection_type, community, usage_type, count() AS calls
FROM events WHERE kind = 1 AND collection != 'usagelog API'
GROUP BY workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type
