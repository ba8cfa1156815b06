-- Rolls up every insert of sync events (into events_syncs_in) from now on.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_syncs_view TO rollup_syncs AS
SELECT workspace_id, (intDiv(time_ms, 86400000) * 86400000 - if(time_ms % 86400000 < 0, 86400000, 0)) AS day_ms,
    integration, system1, system2, project1, project2, end_system, entity_type,
    countState() AS events, countIfState(outcome = 'synced') AS synced, maxIfState(time_ms, outcome = 'synced') AS last_synced_ms,
    maxState(integration_updated_ms) AS last_updated_ms, argMaxState(integration_status, time_ms) AS status
FROM events_syncs_in WHERE kind = 3
GROUP BY workspace_id, day_ms, integration, system1, system2, project1, project2, end_system, entity_type
