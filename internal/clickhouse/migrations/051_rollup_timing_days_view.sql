-- Rolls up every insert into events from now on, but usagelog's own calls.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_timing_days_view TO rollup_timing_days_buffer AS
SELECT workspace_id, (intDiv(time_ms, 86400000) * 86400000 - if(time_ms % 86400000 < 0, 86400000, 0)) AS bucket_ms, if(timing_ms <= 128, greatest(timing_ms, 0), toInt64(129 + floor(log(timing_ms / 128) / log(1.02)))) AS tb, count() AS calls
FROM events WHERE kind = 1 AND collection != 'usagelog API'
GROUP BY workspace_id, bucket_ms, tb
