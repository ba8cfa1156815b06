CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.events_syncs_copy {on_cluster} TO {db}.events_local AS SELECT * FROM {db}.events_syncs_in_local
