-- See 011: the stored events but usagelog's own calls, rolled up.
INSERT INTO rollup_series (workspace_id, bucket_ms, tb, calls, errors, mcp)
SELECT workspace_id, (intDiv(time_ms, 900000) * 900000 - if(time_ms % 900000 < 0, 900000, 0)) AS bucket_ms, if(timing_ms <= 128, greatest(timing_ms, 0), toInt64(129 + floor(log(timing_ms / 128) / log(1.02)))) AS tb,
    count() AS calls, countIf(status >= 400) AS errors, countIf(usage_type = 'mcp') AS mcp
FROM events FINAL WHERE kind = 1 AND collection != 'usagelog API'
GROUP BY workspace_id, bucket_ms, tb
