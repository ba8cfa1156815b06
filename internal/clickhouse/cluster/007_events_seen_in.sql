-- Inserts of user_seen events go to the shard of their workspace and id.
CREATE TABLE IF NOT EXISTS {db}.events_seen_in {on_cluster} AS {db}.events_seen_in_local
ENGINE = Distributed({cluster}, {db}, events_seen_in_local, cityHash64(workspace_id, id))
