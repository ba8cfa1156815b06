-- Flushed one to two seconds after a layer's first row (or at 1,000,000
-- rows or 100 MB in a layer); reads see its rows through rollupFrom until
-- then. 16 layers: a flush holds its layer while the rollup views run, and
-- an insert takes a layer that is not flushing (with one, inserts waited
-- up to a second for it; BenchmarkIngestHTTPClickHouse).
CREATE TABLE IF NOT EXISTS rollup_incoming_buffer AS rollup_incoming
ENGINE = Buffer({database}, rollup_incoming, 16, 1, 2, 1, 1000000, 1, 100000000)
