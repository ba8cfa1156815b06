-- user_seen events by day and identity, as on one server (../migrations/054).
CREATE TABLE IF NOT EXISTS {db}.rollup_seen_local {on_cluster} (
    workspace_id Int64,
    day_ms Int64,
    system String,
    email String,
    username String,
    display_name String,
    interactions AggregateFunction(groupUniqArray, String),
    service_account_max AggregateFunction(max, Int64),
    last_ms AggregateFunction(max, Int64)
)
ENGINE = {replicated}AggregatingMergeTree({zk:rollup_seen_local})
ORDER BY (workspace_id, day_ms, system, email, username, display_name)
