-- The views write into a Buffer in front of rollup_series: ClickHouse keeps
-- their rows in memory and writes them to rollup_series as one part every few
-- seconds, not one part for each insert of events.
CREATE TABLE IF NOT EXISTS rollup_series_buffer AS rollup_series
ENGINE = Buffer({database}, rollup_series, 1, 2, 10, 200000, 2000000, 20000000, 200000000)
