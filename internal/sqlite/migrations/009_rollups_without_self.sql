-- usagelog's own API calls (collection "usagelog API") leave the rollups:
-- views and summaries leave them out unless a filter names them, and
-- then count them from the events. The rollups of the other calls are
-- rolled up again from the events when this migration runs (store.go).
DELETE FROM rollups;
