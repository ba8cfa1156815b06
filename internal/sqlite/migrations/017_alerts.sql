-- Alert rules (internal/alerts) and where each stands. filters are the
-- log filters as a query string; emails one address a line; secret signs
-- the webhook's body. next_at is when the rule is due to be measured: a
-- replica claims it by moving next_at on from the value it read, so a rule
-- is measured once a minute across replicas. Times are Unix milliseconds,
-- 0 for never.
CREATE TABLE alert_rules (
    id              TEXT    PRIMARY KEY,
    workspace_id    BIGINT  NOT NULL,
    name            TEXT    NOT NULL,
    metric          TEXT    NOT NULL,
    op              TEXT    NOT NULL,
    threshold       REAL    NOT NULL,
    window_ms       BIGINT  NOT NULL,
    filters         TEXT    NOT NULL,
    min_calls       BIGINT  NOT NULL,
    webhook         TEXT    NOT NULL,
    format          TEXT    NOT NULL,
    emails          TEXT    NOT NULL,
    secret          TEXT    NOT NULL,
    renotify_ms     BIGINT  NOT NULL,
    enabled         BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'ok',
    state_since     BIGINT  NOT NULL DEFAULT 0,
    notified_at     BIGINT  NOT NULL DEFAULT 0,
    last_at         BIGINT  NOT NULL DEFAULT 0,
    last_value      REAL    NOT NULL DEFAULT 0,
    last_calls      BIGINT  NOT NULL DEFAULT 0,
    next_at         BIGINT  NOT NULL DEFAULT 0,
    notify_error    TEXT    NOT NULL DEFAULT '',
    notify_error_at BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX alert_rules_workspace ON alert_rules (workspace_id, name);
CREATE INDEX alert_rules_due ON alert_rules (next_at);

-- Every change of a rule's state, and every notice, with what was measured.
CREATE TABLE alert_events (
    id           TEXT    PRIMARY KEY,
    rule_id      TEXT    NOT NULL,
    workspace_id BIGINT  NOT NULL,
    at           BIGINT  NOT NULL,
    state        TEXT    NOT NULL,
    notice       TEXT    NOT NULL,
    value        REAL    NOT NULL,
    calls        BIGINT  NOT NULL
);
CREATE INDEX alert_events_rule ON alert_events (rule_id, at);
