-- A workspace's redaction rules (usage.Redaction), as the JSON the API
-- takes; a workspace without a row redacts by the defaults.
CREATE TABLE redaction_rules (
    workspace_id BIGINT PRIMARY KEY REFERENCES workspaces(id),
    rules        TEXT   NOT NULL
);
