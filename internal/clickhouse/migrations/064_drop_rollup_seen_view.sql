-- 065 makes the view again on events_seen_in; upgrade with ingest
-- stopped, or observations inserted in between are not rolled up.
DROP TABLE IF EXISTS rollup_seen_view
