-- The calls of each combination of the filterable fields and status, per
-- UTC day: pick-lists, top clients and a filtered summary's dimensions
-- over whole days (rollup_hours holds about 24 times the rows). The same
-- columns, engine and order as rollup_hours.
CREATE TABLE IF NOT EXISTS rollup_days AS rollup_hours
