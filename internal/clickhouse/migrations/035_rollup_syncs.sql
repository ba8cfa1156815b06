-- Sync events rolled up by UTC day and sync group (integration, systems,
-- projects, end system, entity type), as SQLite's sync_rollups: the usage
-- reports and the Licenses page read a row a group a day instead of every
-- sync with FINAL. Counts and latest times are aggregate states, merged as
-- parts merge and by the -Merge functions when read.
CREATE TABLE IF NOT EXISTS rollup_syncs (
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
-- One partition: the table is small (a row a group or identity a day),
-- and a year's read would open a part a month otherwise.
ENGINE = AggregatingMergeTree()
ORDER BY (workspace_id, day_ms, integration, system1, system2, project1, project2, end_system, entity_type)
