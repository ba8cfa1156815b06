-- The user_seen events stored before 054, rolled up once (a re-sent copy
-- not merged yet once, by LIMIT 1 BY its key); upgrade with ingest stopped.
INSERT INTO rollup_seen
SELECT workspace_id, (intDiv(time_ms, 86400000) * 86400000 - if(time_ms % 86400000 < 0, 86400000, 0)) AS day_ms, system, email, username, display_name,
    groupUniqArrayState(interaction), maxState(service_account), maxState(time_ms)
FROM (SELECT workspace_id, time_ms, system, email, username, display_name, interaction, service_account FROM events
    WHERE kind = 4 LIMIT 1 BY workspace_id, time_ms, id)
GROUP BY workspace_id, day_ms, system, email, username, display_name
