-- Who made a job, as the audit log names actors: a key or a member (its
-- id), or usagelog (a schedule's run). created_by keeps the name.
ALTER TABLE export_jobs ADD COLUMN creator_type TEXT NOT NULL DEFAULT '';
ALTER TABLE export_jobs ADD COLUMN creator_id TEXT NOT NULL DEFAULT '';
