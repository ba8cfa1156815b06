-- A scan in time order walks the (workspace, kind, time, id) index and
-- reads each row by rowid. Rowids follow arrival, so events that arrive
-- out of time order make the scan read a table page a row. Store.Cluster
-- (cluster.go) rewrites the table in index order; cluster_state counts
-- the events stored out of order since the last rewrite (disordered) and
-- keeps a rewrite's place: the events up to rowid copy_upto are being
-- copied to events_sorted (0: no rewrite), copied of them so far.
CREATE TABLE cluster_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    disordered INTEGER NOT NULL,
    copy_upto  INTEGER NOT NULL,
    copied     INTEGER NOT NULL
);
-- The events already stored: the index entries whose rowid is below the
-- one before, in a sample of one rowid in 64 (a second for 10,000,000
-- events, where every entry takes twenty).
INSERT INTO cluster_state (id, disordered, copy_upto, copied)
SELECT 1, 64 * count(*), 0, 0 FROM (
    SELECT rowid < lag(rowid) OVER (ORDER BY workspace_id, kind, time_ms, id) AS back
    FROM events WHERE rowid % 64 = 0
) WHERE back;
