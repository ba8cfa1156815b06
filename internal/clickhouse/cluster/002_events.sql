-- The events of every shard, for reads and inserts. An event goes to the
-- shard of its workspace and id, where a re-sent copy lands too and is
-- still a duplicate (FINAL and the check before each insert).
CREATE TABLE IF NOT EXISTS {db}.events {on_cluster} AS {db}.events_local
ENGINE = Distributed({cluster}, {db}, events_local, cityHash64(workspace_id, id))
