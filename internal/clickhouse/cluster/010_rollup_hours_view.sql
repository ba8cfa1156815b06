CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rollup_hours_view {on_cluster} TO {db}.rollup_hours_local AS
SELECT workspace_id, (intDiv(time_ms, 3600000) * 3600000 - if(time_ms % 3600000 < 0, 3600000, 0)) AS bucket_ms,
    status, client, collection, collection_type, community, usage_type, count() AS calls
FROM {db}.events_local WHERE kind = 1 AND collection != 'usagelog API'
GROUP BY workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type
