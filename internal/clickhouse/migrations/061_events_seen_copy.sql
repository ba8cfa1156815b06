-- Every insert into events_seen_in lands in events (see 060).
CREATE MATERIALIZED VIEW IF NOT EXISTS events_seen_copy TO events AS SELECT * FROM events_seen_in
