-- Rolls up every insert into events from now on.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_series_view TO rollup_series AS
SELECT workspace_id, QUARTER_HOUR(time_ms) AS bucket_ms, TIMING_BUCKET(timing_ms) AS tb,
    count() AS calls, countIf(status >= 400) AS errors, countIf(usage_type = 'mcp') AS mcp
FROM events WHERE kind = 1
GROUP BY workspace_id, bucket_ms, tb
