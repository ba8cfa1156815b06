-- How long a workspace keeps its events (0: forever); the janitor
-- removes older ones.
ALTER TABLE workspace_settings ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 0;
