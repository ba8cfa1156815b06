CREATE TABLE IF NOT EXISTS {db}.rollup_totals {on_cluster} AS {db}.rollup_totals_local
ENGINE = Distributed({cluster}, {db}, rollup_totals_local, rand())
