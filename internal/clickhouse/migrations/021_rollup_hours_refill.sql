-- See 011: the stored events but usagelog's own calls, rolled up.
INSERT INTO rollup_hours (workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type, calls)
SELECT workspace_id, (intDiv(time_ms, 3600000) * 3600000 - if(time_ms % 3600000 < 0, 3600000, 0)) AS bucket_ms,
    status, client, collection, collection_type, community, usage_type, count() AS calls
FROM events FINAL WHERE kind = 1 AND collection != 'usagelog API'
GROUP BY workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type
