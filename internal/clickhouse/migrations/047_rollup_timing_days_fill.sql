-- The calls stored before 039, from rollup_series.
INSERT INTO rollup_timing_days (workspace_id, bucket_ms, tb, calls)
SELECT workspace_id, (intDiv(bucket_ms, 86400000) * 86400000 - if(bucket_ms % 86400000 < 0, 86400000, 0)) AS day_ms, tb, sum(calls)
FROM rollup_series GROUP BY workspace_id, day_ms, tb
