-- See 041: ClickHouse keeps the view's rows in memory and writes them to
-- rollup_values as one part every few seconds, as for 026.
CREATE TABLE IF NOT EXISTS rollup_values_buffer AS rollup_values
ENGINE = Buffer({database}, rollup_values, 1, 2, 10, 200000, 2000000, 20000000, 200000000)
