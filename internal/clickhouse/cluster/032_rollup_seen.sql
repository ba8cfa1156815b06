CREATE TABLE IF NOT EXISTS {db}.rollup_seen {on_cluster} AS {db}.rollup_seen_local
ENGINE = Distributed({cluster}, {db}, rollup_seen_local, rand())
