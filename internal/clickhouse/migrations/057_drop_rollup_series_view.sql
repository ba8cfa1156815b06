-- rollup_series (calls per quarter hour and timing bucket) is no longer
-- read: an unfiltered timing reads whole days from rollup_timing_days,
-- whole hours from the status classes of rollup_values and the quarter
-- hours at a window's ends from rollup_calls. Its view cost every insert
-- of API calls (BenchmarkIngestHTTPClickHouse); the table stays, as
-- purges keep deleting from it.
DROP TABLE IF EXISTS rollup_series_view
