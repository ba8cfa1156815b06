-- An insert of API calls copies the rollups' columns into the buffer in
-- front of rollup_incoming (066), but usagelog's own calls.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_incoming_view TO rollup_incoming_buffer AS
SELECT workspace_id, time_ms, status, client, collection, collection_type, community, usage_type, timing_ms
FROM events WHERE kind = 1 AND collection != 'usagelog API'
