CREATE TABLE IF NOT EXISTS {db}.rollup_days {on_cluster} AS {db}.rollup_days_local
ENGINE = Distributed({cluster}, {db}, rollup_days_local, rand())
