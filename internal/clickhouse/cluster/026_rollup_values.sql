CREATE TABLE IF NOT EXISTS {db}.rollup_values {on_cluster} AS {db}.rollup_values_local
ENGINE = Distributed({cluster}, {db}, rollup_values_local, rand())
