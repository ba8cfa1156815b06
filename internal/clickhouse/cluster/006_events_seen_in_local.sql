-- user_seen events are inserted here, as on one server (../migrations/058): a
-- table that keeps nothing, whose views copy them into events_local and
-- roll them up on the node that receives them.
CREATE TABLE IF NOT EXISTS {db}.events_seen_in_local {on_cluster} AS {db}.events_local ENGINE = Null
