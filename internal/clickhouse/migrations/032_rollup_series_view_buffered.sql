-- See 026: the view as 023 made it, into the buffer.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_series_view TO rollup_series_buffer AS
SELECT workspace_id, (intDiv(time_ms, 900000) * 900000 - if(time_ms % 900000 < 0, 900000, 0)) AS bucket_ms, if(timing_ms <= 128, greatest(timing_ms, 0), toInt64(129 + floor(log(timing_ms / 128) / log(1.02)))) AS tb,
    count() AS calls, countIf(status >= 400) AS errors, countIf(usage_type = 'mcp') AS mcp
FROM events WHERE kind = 1 AND collection != 'usagelog API'
GROUP BY workspace_id, bucket_ms, tb
