-- A workspace's classification rules, as the JSON list the API takes; a
-- workspace without a row uses the default rules.
CREATE TABLE classification_rules (
    workspace_id BIGINT PRIMARY KEY REFERENCES workspaces(id),
    rules        TEXT   NOT NULL
);
