-- Inserts of sync events go to the shard of their workspace and id.
CREATE TABLE IF NOT EXISTS {db}.events_syncs_in {on_cluster} AS {db}.events_syncs_in_local
ENGINE = Distributed({cluster}, {db}, events_syncs_in_local, cityHash64(workspace_id, id))
