-- Rolls up every insert of user_seen events from now on.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_seen_view TO rollup_seen AS
SELECT workspace_id, (intDiv(time_ms, 86400000) * 86400000 - if(time_ms % 86400000 < 0, 86400000, 0)) AS day_ms, system, lower(replaceRegexpAll(email, '^[[:space:]]+|[[:space:]]+$', '')) AS email_key, lower(replaceRegexpAll(username, '^[[:space:]]+|[[:space:]]+$', '')) AS username_key, lower(replaceRegexpAll(display_name, '^[[:space:]]+|[[:space:]]+$', '')) AS display_name_key,
    minState(email) AS email_min, minState(username) AS username_min, minState(display_name) AS display_name_min,
    groupUniqArrayState(interaction) AS interactions, maxState(service_account) AS service_account_max, maxState(time_ms) AS last_ms
FROM events WHERE kind = 4
GROUP BY workspace_id, day_ms, system, email_key, username_key, display_name_key
