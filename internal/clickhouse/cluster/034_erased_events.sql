-- Sharded as the events (002): an id erased twice lands on one shard.
CREATE TABLE IF NOT EXISTS {db}.erased_events {on_cluster} AS {db}.erased_events_local
ENGINE = Distributed({cluster}, {db}, erased_events_local, cityHash64(workspace_id, id))
