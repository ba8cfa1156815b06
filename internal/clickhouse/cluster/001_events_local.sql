-- The cluster's schema: the single server's (../migrations) as it stands
-- now, in tables of one node (_local) that every node holds, kept on the
-- shard's replicas through ZooKeeper when the cluster has replicas, and
-- Distributed tables with the single server's names over them, which the
-- store's queries read. {db}, {on_cluster}, {replicated}, {zk:…} and {cluster}
-- are filled in by Store.migrate (cluster.go).
--
-- A shard's events, as events on one server (../migrations/001).
CREATE TABLE IF NOT EXISTS {db}.events_local {on_cluster} (
    workspace_id Int64,
    kind Int64,
    id String,
    time_ms Int64,
    method String DEFAULT '',
    url String DEFAULT '',
    endpoint String DEFAULT '',
    status Int64 DEFAULT 0,
    gateway_code Int64 DEFAULT 0,
    status_details String DEFAULT '',
    community String DEFAULT '',
    collection String DEFAULT '',
    collection_type String DEFAULT '',
    client String DEFAULT '',
    member_id String DEFAULT '',
    member_name String DEFAULT '',
    ip String DEFAULT '',
    user_agent String DEFAULT '',
    timing_ms Int64 DEFAULT 0,
    delay_ms Int64 DEFAULT 0,
    job_url String DEFAULT '',
    client_class String DEFAULT '',
    usage_type String DEFAULT '',
    user_id String DEFAULT '',
    user_email String DEFAULT '',
    user_name String DEFAULT '',
    feature String DEFAULT '',
    assistant_id String DEFAULT '',
    assistant String DEFAULT '',
    workflow_id String DEFAULT '',
    workflow String DEFAULT '',
    project_id String DEFAULT '',
    project String DEFAULT '',
    model String DEFAULT '',
    api_key String DEFAULT '',
    messages Int64 DEFAULT 0,
    input_tokens Int64 DEFAULT 0,
    output_tokens Int64 DEFAULT 0,
    integration String DEFAULT '',
    system1 String DEFAULT '',
    system2 String DEFAULT '',
    project1 String DEFAULT '',
    project2 String DEFAULT '',
    end_system String DEFAULT '',
    entity_type String DEFAULT '',
    entity_id String DEFAULT '',
    integration_status String DEFAULT '',
    integration_updated_ms Int64 DEFAULT 0,
    outcome String DEFAULT '',
    system String DEFAULT '',
    email String DEFAULT '',
    username String DEFAULT '',
    display_name String DEFAULT '',
    interaction String DEFAULT '',
    service_account Int64 DEFAULT 0
)
ENGINE = {replicated}ReplacingMergeTree({zk:events_local})
PARTITION BY toYYYYMM(toDateTime(intDiv(time_ms, 1000)))
ORDER BY (workspace_id, kind, time_ms, id)
