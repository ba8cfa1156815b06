-- usagelog's own API calls (collection 'usagelog API') leave the rollups:
-- summaries count them from the events when a filter names them. The
-- views are dropped, the rollups rolled up again without them (011-025);
-- upgrade with ingest stopped, as for 005-010.
DROP TABLE IF EXISTS rollup_series_view
