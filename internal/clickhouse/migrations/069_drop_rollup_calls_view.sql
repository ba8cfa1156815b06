-- See 066: the view is made again on rollup_incoming (075).
DROP TABLE IF EXISTS rollup_calls_view
