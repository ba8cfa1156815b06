-- Ingest adds api_request events to the rollups in folds of many batches
-- (tail.go), not in each batch's transaction: a batch spread over months
-- rewrote the row of nearly every hour it touched, once a batch. Events
-- with a rowid above rolled_to are the tail, not yet in the rollups;
-- summaries add them from the events. generation changes whenever the
-- tail does other than by growing (a fold, a purge), which tells readers
-- that what they hold of it is stale. The events stored before this
-- migration are in the rollups already.
CREATE TABLE rollup_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    rolled_to  INTEGER NOT NULL,
    generation INTEGER NOT NULL
);
INSERT INTO rollup_state (id, rolled_to, generation) SELECT 1, coalesce(max(rowid), 0), 0 FROM events;
