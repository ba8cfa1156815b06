-- 063 makes the view again on events_syncs_in; upgrade with ingest
-- stopped, or syncs inserted in between are not rolled up.
DROP TABLE IF EXISTS rollup_syncs_view
