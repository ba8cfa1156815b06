-- Flushed one to two seconds after its first row (or at 5,000,000 rows);
-- reads see its rows through rollupFrom until then.
CREATE TABLE IF NOT EXISTS rollup_incoming_buffer AS rollup_incoming
ENGINE = Buffer({database}, rollup_incoming, 16, 1, 2, 1, 5000000, 1, 500000000)
