INSERT INTO rollup_calls (workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type, tb, calls)
SELECT workspace_id, QUARTER_HOUR(time_ms) AS bucket_ms, status, client, collection, collection_type, community, usage_type,
    TIMING_BUCKET(timing_ms) AS tb, count() AS calls
FROM events FINAL WHERE kind = 1
GROUP BY workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type, tb
