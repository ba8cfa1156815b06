-- Reads sum every shard's rows; rows inserted directly (Reclassify's
-- corrections) may go to any shard.
CREATE TABLE IF NOT EXISTS {db}.rollup_hours {on_cluster} AS {db}.rollup_hours_local
ENGINE = Distributed({cluster}, {db}, rollup_hours_local, rand())
