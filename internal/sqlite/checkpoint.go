package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"time"
)

// checkpointEvery is how often the checkpointer copies the write-ahead
// log's new pages into the file.
const checkpointEvery = time.Second

// checkpointLoop copies the write-ahead log into the file every
// checkpointEvery, on a connection of its own, until stop closes. SQLite
// would otherwise do it in the commit that fills the log (32,768 pages),
// and the append whose commit it was waited a second for it at
// 10,000,000 events (BenchmarkWritePath, max-append-ms). A passive
// checkpoint waits for no reader or writer, and none waits for it.
func checkpointLoop(db *sql.DB, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		rows, err := db.QueryContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
		if err == nil {
			for rows.Next() {
			}
			rows.Close()
			err = rows.Err()
		}
		if err != nil {
			slog.Error("sqlite: checkpoint", "err", err)
		}
	}
}
