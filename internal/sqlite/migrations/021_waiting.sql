-- A merge step may leave the arrivals it merged in arrivals (merge.go):
-- deleting a step's arrivals out of time order takes an entry at a random
-- place out of each of their indexes, which cost a merge step out of order
-- as much as its inserts did. merge_state.merged_to tells the merged ones
-- apart, and waiting is the arrivals that are not merged: every read of
-- arrivals reads it (tables.go), and only the merge, appends, purges,
-- reclassifications and erasures touch the table itself.
CREATE VIEW waiting AS
    SELECT * FROM arrivals WHERE seq > (SELECT merged_to FROM merge_state WHERE id = 1);
