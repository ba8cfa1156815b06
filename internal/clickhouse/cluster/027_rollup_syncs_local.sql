-- Sync events by day and group, as on one server (../migrations/035).
CREATE TABLE IF NOT EXISTS {db}.rollup_syncs_local {on_cluster} (
    workspace_id Int64,
    day_ms Int64,
    integration String,
    system1 String,
    system2 String,
    project1 String,
    project2 String,
    end_system String,
    entity_type String,
    events AggregateFunction(count),
    synced AggregateFunction(countIf, UInt8),
    last_synced_ms AggregateFunction(maxIf, Int64, UInt8),
    last_updated_ms AggregateFunction(max, Int64),
    status AggregateFunction(argMax, String, Int64)
)
ENGINE = {replicated}AggregatingMergeTree({zk:rollup_syncs_local})
ORDER BY (workspace_id, day_ms, integration, system1, system2, project1, project2, end_system, entity_type)
