-- The calls stored before 040, from rollup_hours.
INSERT INTO rollup_days (workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type, calls)
SELECT workspace_id, (intDiv(bucket_ms, 86400000) * 86400000 - if(bucket_ms % 86400000 < 0, 86400000, 0)) AS day_ms,
    status, client, collection, collection_type, community, usage_type, sum(calls)
FROM rollup_hours GROUP BY workspace_id, day_ms, status, client, collection, collection_type, community, usage_type
