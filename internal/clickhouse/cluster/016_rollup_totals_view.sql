CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rollup_totals_view {on_cluster} TO {db}.rollup_totals_local AS
SELECT workspace_id, (intDiv(time_ms, 900000) * 900000 - if(time_ms % 900000 < 0, 900000, 0)) AS bucket_ms,
    count() AS calls, countIf(status >= 400) AS errors, countIf(usage_type = 'mcp') AS mcp
FROM {db}.events_local WHERE kind = 1 AND collection != 'usagelog API'
GROUP BY workspace_id, bucket_ms
