-- See 038: ClickHouse keeps the view's rows in memory and writes them to
-- rollup_totals as one part every few seconds, as for 026.
CREATE TABLE IF NOT EXISTS rollup_totals_buffer AS rollup_totals
ENGINE = Buffer({database}, rollup_totals, 1, 2, 10, 200000, 2000000, 20000000, 200000000)
