-- Ingest appends to arrivals and does nothing else (merge.go): a
-- background merge moves the arrivals, seq order, a step at a time, into
-- events (each step's rows sorted by workspace, kind and time) and into the
-- rollups, in one transaction per step. seq is the arrival order and means
-- nothing else; AUTOINCREMENT never gives a seq twice, so that what a
-- reader holds of the arrivals by seq stays true. arrivals has every
-- column of events: a migration that adds one to events adds it here too
-- (TestArrivalsMatchEvents).
--
-- merge_state.merged_to is the last seq merged: every arrival up to it is
-- in events and in the rollups, every one above it still in arrivals.
-- generation changes when arrivals change other than by new ones at the
-- top and merged ones leaving at the bottom (a purge, a reclassification):
-- it tells readers that what they hold of the arrivals is stale. It
-- replaces rollup_state, whose tail was a range of events' rowids: the
-- events of that tail are added to the rollups before this runs
-- (store.go), so that events' rowids mean only where a row lies.
CREATE TABLE arrivals (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL,
    id           TEXT    NOT NULL,
    kind         INTEGER NOT NULL,
    time_ms      INTEGER NOT NULL,

    method          TEXT    NOT NULL DEFAULT '',
    url             TEXT    NOT NULL DEFAULT '',
    endpoint        TEXT    NOT NULL DEFAULT '',
    status          INTEGER NOT NULL DEFAULT 0,
    gateway_code    INTEGER NOT NULL DEFAULT 0,
    status_details  TEXT    NOT NULL DEFAULT '',
    community       TEXT    NOT NULL DEFAULT '',
    collection      TEXT    NOT NULL DEFAULT '',
    collection_type TEXT    NOT NULL DEFAULT '',
    client          TEXT    NOT NULL DEFAULT '',
    member_id       TEXT    NOT NULL DEFAULT '',
    member_name     TEXT    NOT NULL DEFAULT '',
    ip              TEXT    NOT NULL DEFAULT '',
    user_agent      TEXT    NOT NULL DEFAULT '',
    timing_ms       INTEGER NOT NULL DEFAULT 0,
    delay_ms        INTEGER NOT NULL DEFAULT 0,
    job_url         TEXT    NOT NULL DEFAULT '',
    client_class    TEXT    NOT NULL DEFAULT '',
    usage_type      TEXT    NOT NULL DEFAULT '',

    user_id       TEXT    NOT NULL DEFAULT '',
    user_email    TEXT    NOT NULL DEFAULT '',
    user_name     TEXT    NOT NULL DEFAULT '',
    feature       TEXT    NOT NULL DEFAULT '',
    assistant_id  TEXT    NOT NULL DEFAULT '',
    assistant     TEXT    NOT NULL DEFAULT '',
    workflow_id   TEXT    NOT NULL DEFAULT '',
    workflow      TEXT    NOT NULL DEFAULT '',
    project_id    TEXT    NOT NULL DEFAULT '',
    project       TEXT    NOT NULL DEFAULT '',
    model         TEXT    NOT NULL DEFAULT '',
    api_key       TEXT    NOT NULL DEFAULT '',
    messages      INTEGER NOT NULL DEFAULT 0,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,

    integration            TEXT    NOT NULL DEFAULT '',
    system1                TEXT    NOT NULL DEFAULT '',
    system2                TEXT    NOT NULL DEFAULT '',
    project1               TEXT    NOT NULL DEFAULT '',
    project2               TEXT    NOT NULL DEFAULT '',
    end_system             TEXT    NOT NULL DEFAULT '',
    entity_type            TEXT    NOT NULL DEFAULT '',
    entity_id              TEXT    NOT NULL DEFAULT '',
    integration_status     TEXT    NOT NULL DEFAULT '',
    integration_updated_ms INTEGER NOT NULL DEFAULT 0,
    outcome                TEXT    NOT NULL DEFAULT '',

    system          TEXT    NOT NULL DEFAULT '',
    email           TEXT    NOT NULL DEFAULT '',
    username        TEXT    NOT NULL DEFAULT '',
    display_name    TEXT    NOT NULL DEFAULT '',
    interaction     TEXT    NOT NULL DEFAULT '',
    service_account INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX arrivals_workspace_id ON arrivals(workspace_id, id);
CREATE INDEX arrivals_workspace_kind_time ON arrivals(workspace_id, kind, time_ms, id);
CREATE TABLE merge_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    merged_to  INTEGER NOT NULL,
    generation INTEGER NOT NULL
);
INSERT INTO merge_state (id, merged_to, generation) VALUES (1, 0, 0);
DROP TABLE rollup_state;
