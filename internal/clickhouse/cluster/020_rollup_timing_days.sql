CREATE TABLE IF NOT EXISTS {db}.rollup_timing_days {on_cluster} AS {db}.rollup_timing_days_local
ENGINE = Distributed({cluster}, {db}, rollup_timing_days_local, rand())
