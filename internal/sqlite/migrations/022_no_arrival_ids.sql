-- Appends find the waiting arrivals' ids in memory (waiting_ids.go), not
-- by an index: an index keyed by id took each appended event at a random
-- place of it, which cost appends out of time order about as much as
-- everything else they do. The events table keeps its index of ids, which
-- finds the merged ones.
DROP INDEX arrivals_workspace_id;
