CREATE TABLE IF NOT EXISTS {db}.rollup_syncs {on_cluster} AS {db}.rollup_syncs_local
ENGINE = Distributed({cluster}, {db}, rollup_syncs_local, rand())
