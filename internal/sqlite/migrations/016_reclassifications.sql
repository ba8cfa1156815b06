-- Each change of a workspace's classification rules asks for its stored
-- API calls to be classified again (internal/reclassify). requested
-- counts the changes, started is the change the latest run took up: a run
-- is due while requested > started, or while a run that stopped reporting
-- (updated_at) never finished; attempt counts the claims of one change,
-- more than one when a run is taken up again. Times are Unix
-- milliseconds, 0 for never.
CREATE TABLE reclassifications (
    workspace_id BIGINT  PRIMARY KEY,
    requested    BIGINT  NOT NULL,
    requested_at BIGINT  NOT NULL,
    started      BIGINT  NOT NULL DEFAULT 0,
    started_at   BIGINT  NOT NULL DEFAULT 0,
    attempt      BIGINT  NOT NULL DEFAULT 0,
    updated_at   BIGINT  NOT NULL DEFAULT 0,
    finished_at  BIGINT  NOT NULL DEFAULT 0,
    done         BIGINT  NOT NULL DEFAULT 0,
    total        BIGINT  NOT NULL DEFAULT 0,
    changed      BIGINT  NOT NULL DEFAULT 0,
    error        TEXT    NOT NULL DEFAULT ''
);
