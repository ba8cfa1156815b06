-- Sync events are inserted here, not into events: a table that keeps
-- nothing, whose views copy each insert into events and roll it up into
-- rollup_syncs. An insert of API calls into events then runs only the
-- views of API calls (the sync and user_seen views cost every insert of
-- API calls 3-6 ms a 10,000-call body, BenchmarkIngestHTTPClickHouse). Its
-- columns are events' own: a column added to events is added here too.
CREATE TABLE IF NOT EXISTS events_syncs_in AS events ENGINE = Null
