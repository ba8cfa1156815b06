CREATE TABLE IF NOT EXISTS {db}.rollup_calls {on_cluster} AS {db}.rollup_calls_local
ENGINE = Distributed({cluster}, {db}, rollup_calls_local, rand())
