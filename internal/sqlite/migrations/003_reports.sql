-- The seed 003 usage reports group sync events by integration, systems,
-- projects, end system and entity type, and user_seen events by system and
-- case-folded identity. These partial indexes hold exactly the grouped
-- columns first and what the aggregates read after, so each GROUP BY walks
-- an index in order, reading no table rows and sorting nothing.
CREATE INDEX events_sync_groups ON events (
    workspace_id, integration, system1, system2, project1, project2, end_system, entity_type,
    time_ms, outcome, integration_updated_ms, integration_status
) WHERE kind = 3;

CREATE INDEX events_seen_groups ON events (
    workspace_id, system, lower(trim(email)), lower(trim(username)), lower(trim(display_name)),
    time_ms, email, username, display_name, interaction, service_account
) WHERE kind = 4;
