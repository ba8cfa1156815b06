-- The view of rollup_calls as before, on rollup_incoming (066): it runs when
-- the buffer flushes, not in the insert.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_calls_view TO rollup_calls_buffer AS
SELECT workspace_id, (intDiv(time_ms, 900000) * 900000 - if(time_ms % 900000 < 0, 900000, 0)) AS bucket_ms, status, client, collection, collection_type, community, usage_type,
    if(timing_ms <= 128, greatest(timing_ms, 0), toInt64(129 + floor(log(timing_ms / 128) / log(1.02)))) AS tb, count() AS calls
FROM rollup_incoming
GROUP BY workspace_id, bucket_ms, status, client, collection, collection_type, community, usage_type, tb
