-- The view of rollup_totals as before, on rollup_incoming (066): it runs when
-- the buffer flushes, not in the insert.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_totals_view TO rollup_totals_buffer AS
SELECT workspace_id, (intDiv(time_ms, 900000) * 900000 - if(time_ms % 900000 < 0, 900000, 0)) AS bucket_ms,
    count() AS calls, countIf(status >= 400) AS errors, countIf(usage_type = 'mcp') AS mcp
FROM rollup_incoming
GROUP BY workspace_id, bucket_ms
