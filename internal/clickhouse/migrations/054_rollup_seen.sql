-- user_seen events rolled up by UTC day, system and identity (email,
-- username and display name compared as SeenGroups compares them): the
-- usage reports and the Licenses page read a row an identity a day, not
-- the year's observations across every part of the events table.
CREATE TABLE IF NOT EXISTS rollup_seen (
    workspace_id Int64,
    day_ms Int64,
    system String,
    email_key String,
    username_key String,
    display_name_key String,
    email_min AggregateFunction(min, String),
    username_min AggregateFunction(min, String),
    display_name_min AggregateFunction(min, String),
    interactions AggregateFunction(groupUniqArray, String),
    service_account_max AggregateFunction(max, Int64),
    last_ms AggregateFunction(max, Int64)
)
-- One partition: the table is small (a row a group or identity a day),
-- and a year's read would open a part a month otherwise.
ENGINE = AggregatingMergeTree()
ORDER BY (workspace_id, day_ms, system, email_key, username_key, display_name_key)
