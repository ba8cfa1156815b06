-- Rolls up every insert of user_seen events (into events_seen_in) from now
-- on.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_seen_view TO rollup_seen AS
SELECT workspace_id, (intDiv(time_ms, 86400000) * 86400000 - if(time_ms % 86400000 < 0, 86400000, 0)) AS day_ms, system, email, username, display_name,
    groupUniqArrayState(interaction) AS interactions, maxState(service_account) AS service_account_max, maxState(time_ms) AS last_ms
FROM events_seen_in WHERE kind = 4
GROUP BY workspace_id, day_ms, system, email, username, display_name
