CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rollup_seen_view {on_cluster} TO {db}.rollup_seen_local AS
SELECT workspace_id, (intDiv(time_ms, 86400000) * 86400000 - if(time_ms % 86400000 < 0, 86400000, 0)) AS day_ms,
    system, email, username, display_name,
    groupUniqArrayState(interaction) AS interactions, maxState(service_account) AS service_account_max, maxState(time_ms) AS last_ms
FROM {db}.events_seen_in_local WHERE kind = 4
GROUP BY workspace_id, day_ms, system, email, username, display_name
