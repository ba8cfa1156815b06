-- user_seen events are inserted here, as sync events are into
-- events_syncs_in (058).
CREATE TABLE IF NOT EXISTS events_seen_in AS events ENGINE = Null
