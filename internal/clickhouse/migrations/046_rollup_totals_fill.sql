-- The calls stored before 038, from rollup_series (which holds them all);
-- upgrade with ingest stopped, as for 005-010.
INSERT INTO rollup_totals (workspace_id, bucket_ms, calls, errors, mcp)
SELECT workspace_id, bucket_ms, sum(calls), sum(errors), sum(mcp) FROM rollup_series GROUP BY workspace_id, bucket_ms
