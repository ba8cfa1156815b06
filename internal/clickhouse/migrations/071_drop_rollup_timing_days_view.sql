-- See 066: the view is made again on rollup_incoming (077).
DROP TABLE IF EXISTS rollup_timing_days_view
