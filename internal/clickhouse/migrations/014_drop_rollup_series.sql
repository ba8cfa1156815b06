-- See 011.
DROP TABLE IF EXISTS rollup_series
