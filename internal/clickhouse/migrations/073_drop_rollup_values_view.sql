-- See 066: the view is made again on rollup_incoming (079).
DROP TABLE IF EXISTS rollup_values_view
