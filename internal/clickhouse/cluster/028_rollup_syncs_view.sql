CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rollup_syncs_view {on_cluster} TO {db}.rollup_syncs_local AS
SELECT workspace_id, (intDiv(time_ms, 86400000) * 86400000 - if(time_ms % 86400000 < 0, 86400000, 0)) AS day_ms,
    integration, system1, system2, project1, project2, end_system, entity_type,
    countState() AS events, countIfState(outcome = 'synced') AS synced,
    maxIfState(time_ms, outcome = 'synced') AS last_synced_ms,
    maxState(integration_updated_ms) AS last_updated_ms, argMaxState(integration_status, time_ms) AS status
FROM {db}.events_syncs_in_local WHERE kind = 3
GROUP BY workspace_id, day_ms, integration, system1, system2, project1, project2, end_system, entity_type
