-- What became of a finished job's webhook: delivered, failed or refused
-- (a target the server does not send to), for the job's history.
ALTER TABLE export_jobs ADD COLUMN webhook TEXT NOT NULL DEFAULT '';
