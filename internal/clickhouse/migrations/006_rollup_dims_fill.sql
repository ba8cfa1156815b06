INSERT INTO rollup_dims (workspace_id, grain_ms, bucket_ms, dim, value, calls, errors)
SELECT workspace_id, arrayJoin([toInt64(3600000), toInt64(86400000)]) AS grain_ms,
    intDiv(time_ms, grain_ms) * grain_ms - if(time_ms % grain_ms < 0, grain_ms, 0) AS bucket_ms,
    dim, value, count() AS calls, countIf(status >= 400) AS errors
FROM events FINAL ARRAY JOIN [toInt64(0), toInt64(1), toInt64(2), toInt64(3)] AS dim, [toString(status), client, collection, community] AS value
WHERE kind = 1
GROUP BY workspace_id, grain_ms, bucket_ms, dim, value
