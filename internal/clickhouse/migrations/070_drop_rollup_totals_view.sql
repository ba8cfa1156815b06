-- See 066: the view is made again on rollup_incoming (076).
DROP TABLE IF EXISTS rollup_totals_view
