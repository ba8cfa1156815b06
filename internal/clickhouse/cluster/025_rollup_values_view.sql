CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rollup_values_view {on_cluster} TO {db}.rollup_values_local AS
SELECT workspace_id, toInt64(d.1) AS dim, d.2 AS value, (intDiv(time_ms, 3600000) * 3600000 - if(time_ms % 3600000 < 0, 3600000, 0)) AS bucket_ms,
    if(timing_ms <= 128, greatest(timing_ms, 0), toInt64(129 + floor(log(timing_ms / 128) / log(1.02)))) AS tb, count() AS calls, countIf(status >= 400) AS errors
FROM {db}.events_local
ARRAY JOIN [(0, toString(intDiv(status, 100))), (2, client), (3, collection)] AS d
WHERE kind = 1 AND collection != 'usagelog API'
GROUP BY workspace_id, dim, value, bucket_ms, tb
