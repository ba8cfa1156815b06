CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rollup_calls_view {on_cluster} TO {db}.rollup_calls_local AS
SELECT workspace_id, (intDiv(time_ms, 900000) * 900000 - if(time_ms % 900000 < 0, 900000, 0)) AS bucket_ms,
    status, client, collection, collection_type, community, usage_type,
    if(timing_ms <= 128, greatest(timing_ms, 0), toInt64(129 + floor(log(timing_ms / 128) / log(1.02)))) AS tb, count() AS calls
FROM {db}.events_local WHERE kind = 1 AND collection != 'usagelog API'
GROUP BY workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type, tb
