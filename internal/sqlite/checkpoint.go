package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// checkpointEvery is how often the checkpointer copies the write-ahead
// log's new pages into the file.
const checkpointEvery = time.Second

// walResetFrames is the size of the write-ahead log (in pages: 256 MiB
// of 4 KiB pages) past which the checkpointer finishes a checkpoint on
// the write connection and starts the log again.
const walResetFrames = 65_536

// busyTimeoutMS is how long a connection waits for a lock another holds.
const busyTimeoutMS = 10_000

// restartWait is how long the checkpoint that starts the log again waits
// for readers of the log, and the writers wait with it.
const restartWait = 50 * time.Millisecond

// checkpointLoop copies the write-ahead log into the file every
// checkpointEvery, on a connection of its own, until stop closes. SQLite
// would otherwise do it in the commit that fills the log (32,768 pages),
// and the append whose commit it was waited a second for it at
// 10,000,000 events (BenchmarkWritePath, max-append-ms). A passive
// checkpoint waits for no reader or writer, and none waits for it.
//
// But the log starts again from its beginning only when a writer finds
// every page of it copied and no reader reading any, and under steady
// ingest a commit lands while each passive checkpoint runs: the log grew
// to 7 GB while the 10,000,000 events of the demo went in (BenchmarkErase's
// store). So once the log holds reset pages (walResetFrames, or less for a
// store with a small MergeLogLimit), passive checkpoints run back to back
// until few pages are left to copy (walRemainder); then, with the merge
// held back, one more, and a last one on the write connection copies what
// appends wrote meanwhile, between two transactions, and starts the log
// again (restartQuiet).
//
// What it found goes in wal, for the merge (waitForLog).
func checkpointLoop(db, write *sql.DB, merge *sync.Mutex, wal *walState, reset int64, stop <-chan struct{}, done chan<- struct{}) {
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
		frames, copied, err := wal.checkpoint(ctx, db)
		if err == nil && frames >= reset {
			// Passes that wait for nothing first, while they gain on the
			// writers, so that the one writers wait for copies little.
			for range walCatchUp {
				if err != nil || frames-copied <= walRemainder {
					break
				}
				frames, copied, err = wal.checkpoint(ctx, db)
			}
			if err == nil {
				frames, err = restartQuiet(ctx, db, write, merge, wal, frames)
			}
		}
		if err == nil {
			wal.frames.Store(frames)
			wal.checks.Add(1)
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
	err = db.QueryRowContext(ctx, `PRAGMA main.wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
	return frames, copied, err
}

// restartQuiet starts the log again (restart) with the merge held back
// (merge, the lock a merge step holds: it waits for the step under way)
// for a last passive pass and the restart itself: the restart copies what
// that pass left, which is then only what appends wrote meanwhile. The merge
// writes a page or more for each event out of time order, and restart,
// which holds the write connection while it copies and syncs, held it
// 380-770 ms with the merge writing beside the pass before it (the
// 4,096 pages it may leave, scattered over the file), which appends and
// the next merge step waited for (BenchmarkWritePath, p999-append-ms and
// merging-max-append-ms over a second at 3,000,000 into 3,000,000). With
// the merge held back it held it 166-467 ms.
func restartQuiet(ctx context.Context, db, write *sql.DB, merge *sync.Mutex, wal *walState, frames int64) (int64, error) {
	merge.Lock()
	defer merge.Unlock()
	frames, _, err := wal.checkpoint(ctx, db)
	if err != nil {
		return 0, err
	}
	seq := wal.started.Add(1)
	frames, err = restart(ctx, write, frames)
	if err == nil && frames == 0 {
		wal.found(seq, 0, 0) // started again: nobody reads what was before
	}
	return frames, err
}

// restart copies what is left of the log into the file on the write
// connection and starts the log again, waiting restartWait at most for the
// readers of its pages (a RESTART checkpoint); it returns the log's size
// after it. A passive checkpoint there left the log to the next writer to
// start again, which it does only if no reader reads the log at that
// moment: with one read starting before the last ended (a console that
// polls, BenchmarkWritePath's wait for the merge), the log grew on, to
// 4 GB while 3,000,000 events in random time order merged.
func restart(ctx context.Context, write *sql.DB, frames int64) (int64, error) {
	conn, err := write.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, restartWait.Milliseconds())); err != nil {
		return 0, err
	}
	var busy, log, copied int64
	err = conn.QueryRowContext(ctx, `PRAGMA main.wal_checkpoint(RESTART)`).Scan(&busy, &log, &copied)
	if _, rerr := conn.ExecContext(context.Background(), fmt.Sprintf(`PRAGMA busy_timeout = %d`, busyTimeoutMS)); rerr != nil {
		// The write connection must not keep the short wait.
		conn.Raw(func(any) error { return driver.ErrBadConn })
		return 0, rerr
	}
	switch {
	case err != nil:
		return 0, err
	case busy == 0:
		return 0, nil // started again
	case log >= 0:
		return log, nil
	}
	return frames, nil // it could not run: the log is as it was
}

// walState is what the checkpointer last found of the write-ahead log.
type walState struct {
	frames atomic.Int64 // pages in the log
	checks atomic.Int64 // checkpoints run
	// started numbers the checkpoints as they begin, and last is what
	// the latest two to end found (mergedDrops reads them).
	started atomic.Int64
	last    atomic.Pointer[checkpointsFound]
}

// checkpointFound is what a checkpoint found: the log's size and how much
// of it is copied into the file, in pages. No checkpoint copies a page of
// the log that a reader's snapshot does not hold, so a checkpoint that
// finds copied as far as the log reached at some commit finds no reader
// whose snapshot predates that commit; nor does one that finds the log
// shorter, since it started again, which waits for every reader of it.
type checkpointFound struct {
	seq         int64 // walState.started when it began
	log, copied int64
}

// checkpointsFound is what the latest two checkpoints found, in the order
// they ran.
type checkpointsFound struct{ prev, cur checkpointFound }

// checkpoint runs a passive checkpoint on db, records what it found, and
// returns the log's size and the pages of it copied into the file.
func (w *walState) checkpoint(ctx context.Context, db *sql.DB) (frames, copied int64, err error) {
	seq := w.started.Add(1)
	frames, copied, err = checkpoint(ctx, db)
	if err == nil && frames >= 0 { // -1: another process's checkpoint ran
		w.found(seq, frames, copied)
	}
	return frames, copied, err
}

// found records what the checkpoint seq found, unless a later one's is
// there: the two that record are then in the order they ran (they run on
// one connection, and begin in the order of seq).
func (w *walState) found(seq, log, copied int64) {
	f := checkpointFound{seq: seq, log: log, copied: copied}
	for {
		old := w.last.Load()
		next := &checkpointsFound{cur: f}
		if old != nil {
			if old.cur.seq >= seq {
				return
			}
			next.prev = old.cur
		}
		if w.last.CompareAndSwap(old, next) {
			return
		}
	}
}

// latest is what the latest two checkpoints found.
func (w *walState) latest() checkpointsFound {
	if f := w.last.Load(); f != nil {
		return *f
	}
	return checkpointsFound{}
}
