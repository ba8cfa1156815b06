-- See 026: the view moves to the buffer.
DROP TABLE IF EXISTS rollup_series_view
