-- Events stored before the rollups existed, rolled up once; the views
-- created after this take every insert from then on.
INSERT INTO rollup_series (workspace_id, bucket_ms, tb, calls, errors, mcp)
SELECT workspace_id, QUARTER_HOUR(time_ms) AS bucket_ms, TIMING_BUCKET(timing_ms) AS tb,
    count() AS calls, countIf(status >= 400) AS errors, countIf(usage_type = 'mcp') AS mcp
FROM events FINAL WHERE kind = 1
GROUP BY workspace_id, bucket_ms, tb
