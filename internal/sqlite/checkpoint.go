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

// walResetFrames is the size of the write-ahead log (in pages: 256 MiB
// of 4 KiB pages) past which the checkpointer finishes a checkpoint on
// the write connection.
const walResetFrames = 65_536

// checkpointLoop copies the write-ahead log into the file every
// checkpointEvery, on a connection of its own, until stop closes. SQLite
// would otherwise do it in the commit that fills the log (32,768 pages),
// and the append whose commit it was waited a second for it at
// 10,000,000 events (BenchmarkWritePath, max-append-ms). A passive
// checkpoint waits for no reader or writer, and none waits for it.
//
// But the log starts again from its beginning only when a writer finds
// every page of it copied, and under steady ingest a commit lands while
// each passive checkpoint runs: the log grew to 7 GB while the 10,000,000
// events of the demo went in (BenchmarkErase's store). So once the log
// holds walResetFrames pages, passive checkpoints run back to back until
// few pages are left to copy (walRemainder), and a last one on the write
// connection copies those between two transactions: no commit can land
// during it, and the next writer starts the log again (unless a reader
// still reads its pages).
func checkpointLoop(db, write *sql.DB, stop <-chan struct{}, done chan<- struct{}) {
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
		frames, copied, err := checkpoint(ctx, db)
		if err == nil && frames >= walResetFrames {
			// Passes that wait for nothing first, while they gain on the
			// writers, so that the one writers wait for copies little.
			for range walCatchUp {
				if err != nil || frames-copied <= walRemainder {
					break
				}
				frames, copied, err = checkpoint(ctx, db)
			}
			if err == nil {
				_, _, err = checkpoint(ctx, write)
			}
		}
		if err != nil && ctx.Err() == nil {
			slog.Error("sqlite: checkpoint", "err", err)
		}
	}
}

// walRemainder is how many pages the checkpoint on the write connection
// may find left to copy (16 MiB); walCatchUp bounds the passes before it.
const (
	walRemainder = 4096
	walCatchUp   = 5
)

// checkpoint runs a passive checkpoint on db and returns the log's size
// and the pages of it now copied into the file.
func checkpoint(ctx context.Context, db *sql.DB) (frames, copied int64, err error) {
	var busy int64
	err = db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
	return frames, copied, err
}
