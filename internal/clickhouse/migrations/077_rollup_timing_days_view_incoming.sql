-- The view of rollup_timing_days as before, on rollup_incoming (066): it runs when
-- the buffer flushes, not in the insert.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_timing_days_view TO rollup_timing_days_buffer AS
SELECT workspace_id, (intDiv(time_ms, 86400000) * 86400000 - if(time_ms % 86400000 < 0, 86400000, 0)) AS bucket_ms, if(timing_ms <= 128, greatest(timing_ms, 0), toInt64(129 + floor(log(timing_ms / 128) / log(1.02)))) AS tb, count() AS calls
FROM rollup_incoming
GROUP BY workspace_id, bucket_ms, tb
