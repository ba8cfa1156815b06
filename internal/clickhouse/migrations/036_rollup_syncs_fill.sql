-- The sync events stored before 035, rolled up once; the view of 037 takes
-- every insert from then on (upgrade with ingest stopped, as for 005-010).
INSERT INTO rollup_syncs
SELECT workspace_id, (intDiv(time_ms, 86400000) * 86400000 - if(time_ms % 86400000 < 0, 86400000, 0)) AS day_ms,
    integration, system1, system2, project1, project2, end_system, entity_type,
    countState(), countIfState(outcome = 'synced'), maxIfState(time_ms, outcome = 'synced'), maxState(integration_updated_ms),
    argMaxState(integration_status, time_ms)
FROM events FINAL WHERE kind = 3
GROUP BY workspace_id, day_ms, integration, system1, system2, project1, project2, end_system, entity_type
