-- The views write into a Buffer in front of rollup_hours: ClickHouse keeps
-- their rows in memory and writes them to rollup_hours as one part every few
-- seconds, not one part for each insert of events.
CREATE TABLE IF NOT EXISTS rollup_hours_buffer AS rollup_hours
ENGINE = Buffer({database}, rollup_hours, 1, 2, 10, 200000, 2000000, 20000000, 200000000)
