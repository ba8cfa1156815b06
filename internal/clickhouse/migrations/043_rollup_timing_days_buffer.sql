-- See 039: ClickHouse keeps the view's rows in memory and writes them to
-- rollup_timing_days as one part every few seconds, as for 026.
CREATE TABLE IF NOT EXISTS rollup_timing_days_buffer AS rollup_timing_days
ENGINE = Buffer({database}, rollup_timing_days, 1, 2, 10, 200000, 2000000, 20000000, 200000000)
