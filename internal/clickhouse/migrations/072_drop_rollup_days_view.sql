-- See 066: the view is made again on rollup_incoming (078).
DROP TABLE IF EXISTS rollup_days_view
