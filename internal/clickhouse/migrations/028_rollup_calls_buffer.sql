-- The views write into a Buffer in front of rollup_calls: ClickHouse keeps
-- their rows in memory and writes them to rollup_calls as one part every few
-- seconds, not one part for each insert of events.
CREATE TABLE IF NOT EXISTS rollup_calls_buffer AS rollup_calls
ENGINE = Buffer({database}, rollup_calls, 1, 2, 10, 200000, 2000000, 20000000, 200000000)
