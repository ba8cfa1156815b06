-- See 066: the view is made again on rollup_incoming (074).
DROP TABLE IF EXISTS rollup_hours_view
