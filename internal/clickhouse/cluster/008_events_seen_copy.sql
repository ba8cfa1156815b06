CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.events_seen_copy {on_cluster} TO {db}.events_local AS SELECT * FROM {db}.events_seen_in_local
