-- The calls stored before 041, from rollup_calls.
INSERT INTO rollup_values (workspace_id, dim, value, bucket_ms, tb, calls, errors)
SELECT workspace_id, toInt64(d.1) AS dim, d.2 AS value, (intDiv(bucket_ms, 3600000) * 3600000 - if(bucket_ms % 3600000 < 0, 3600000, 0)) AS hour_ms, tb,
    sum(calls), sumIf(calls, status >= 400)
FROM rollup_calls
ARRAY JOIN [(0, toString(intDiv(status, 100))), (2, client), (3, collection)] AS d
GROUP BY workspace_id, dim, value, hour_ms, tb
