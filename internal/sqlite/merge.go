package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/usage"
)

// DefaultMergeStep is how many arrivals one merge step moves into events
// and the rollups, in one transaction, unless Config.MergeStep says. The
// background merge sizes its steps to take about mergeStepTime each,
// between minMergeStep and maxMergeStep arrivals: arrivals in time order
// merge several times faster than arrivals scattered over months.
const DefaultMergeStep = 5000

// Appends write the arrivals file and wait for no merge step
// (arrivals_file.go), so steps are as long as the merge likes: a step's
// commit writes every index page its events fell on once, and out of time
// order a larger step shares more of them (docs/write-path.md:
// BenchmarkMergeSteps moved 17,095 arrivals a second in steps of 5,000,
// 53,297 in steps of 200,000). What waits for a step is the store's file's
// other writers (metadata changes such as a key's last use, purges, the
// rewrite in time order) and the checkpoint that starts the log again: a
// step yields to a writer after a chunk once it has run yieldAfter.
const (
	mergeStepTime = 4 * time.Second
	minMergeStep  = 1000
	maxMergeStep  = 400_000
)

// yieldAfter is how long a step of arrivals out of time order runs before
// it yields to a writer (a variable for tests).
var yieldAfter = 250 * time.Millisecond

// mergeChunk is how many arrivals a merge step moves before it looks for
// writers waiting for the write connection.
const mergeChunk = 2000

// writersWaiting says whether any writer waited for the write connection
// since it had waited waits times (database/sql counts a wait when it
// begins).
func (s *Store) writersWaiting(waits int64) bool {
	return s.write.Stats().WaitCount > waits
}

// mergeIdle is how often the merge looks for arrivals that no append of
// this process told it of (another process's, or left by the last run).
const mergeIdle = time.Second

// mergeGap is the shortest pause between two merge steps of the
// background merge.
const mergeGap = 10 * time.Millisecond

// Merge moves every arrival into events and the rollups, a step at a
// time, and returns how many it moved. The store merges in the
// background as arrivals come (unless Config.ManualMerge); Merge is for
// tests, benchmarks and tools that want it done now.
func (s *Store) Merge(ctx context.Context) (int64, error) {
	var total int64
	for {
		n, _, err := s.mergeStep(ctx, s.mergeStepSize)
		total += int64(n)
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, s.dropMergedNow(ctx)
		}
	}
}

// MergeStep moves the oldest arrivals, up to Config.MergeStep of them,
// into events and the rollups, and returns how many it moved.
func (s *Store) MergeStep(ctx context.Context) (int, error) {
	n, _, err := s.mergeStep(ctx, s.mergeStepSize)
	if err != nil {
		return n, err
	}
	return n, s.dropMergedNow(ctx)
}

// dropMergedNow checkpoints the store's log twice, rather than wait for
// the checkpointer, and drops the merged arrivals that no reader needs.
func (s *Store) dropMergedNow(ctx context.Context) error {
	// The idle merge comes here every mergeIdle: checkpoints only when a
	// step has merged something since.
	if !s.drops.pending() {
		return nil
	}
	for range 2 {
		if _, _, err := s.wal.checkpoint(ctx, s.checkpoints); err != nil {
			return fmt.Errorf("sqlite: merge: %w", err)
		}
	}
	if err := s.dropMergedArrivals(ctx); err != nil {
		return fmt.Errorf("sqlite: merge: drop merged arrivals: %w", err)
	}
	return nil
}

// MergeStatus is how many arrivals wait to be merged.
func (s *Store) MergeStatus(ctx context.Context) (int64, error) {
	var n int64
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM `+waitingView).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: merge status: %w", err)
	}
	return n, nil
}

// Merged says whether every arrival is merged. It reads at most one
// arrival where MergeStatus counts every waiting one: polled every 20 ms
// while 2,650,000 waited, MergeStatus kept one of two cores busy
// (BenchmarkWritePath's wait for the merge spent 411 s of CPU in a run of
// 720 s), which the merge it waited for then lacked.
func (s *Store) Merged(ctx context.Context) (bool, error) {
	var waiting bool
	if err := s.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+waitingView+`)`).Scan(&waiting); err != nil {
		return false, fmt.Errorf("sqlite: merged: %w", err)
	}
	return !waiting, nil
}

// mergeLoop merges in the background until stop closes: when an append
// tells it of arrivals, and every mergeIdle. While appends wait for the
// write connection it lets them go first.
func (s *Store) mergeLoop(stop <-chan struct{}) {
	defer close(s.merged)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	size := s.mergeStepSize
	idle := time.NewTicker(mergeIdle)
	defer idle.Stop()
	for {
		select {
		case <-stop:
			return
		case <-s.kick:
		case <-idle.C:
		}
		for {
			if !s.waitForLog(stop) {
				return
			}
			start := time.Now()
			n, _, err := s.mergeStep(ctx, size)
			if err != nil {
				if ctx.Err() == nil {
					slog.Error("sqlite: merge", "err", err)
				}
				break
			}
			if n == 0 {
				// Caught up: the merged arrivals go now, if no reader holds
				// the store's file as it was, rather than after the
				// checkpointer's next two looks. Until then reads of the
				// waiting ones walk past them in the time index.
				if err := s.dropMergedNow(ctx); err != nil && ctx.Err() == nil {
					slog.Error("sqlite: merge", "err", err)
				}
				if err := s.giveBackMerged(ctx); err != nil && ctx.Err() == nil {
					slog.Error("sqlite: merge: give back pages", "err", err)
				}
				break
			}
			took := time.Since(start)
			if !s.fixedStep && n == size && took > 0 {
				size = min(max(int(int64(size)*int64(mergeStepTime)/int64(took)), minMergeStep), maxMergeStep)
			}
			if err := s.dropMergedArrivals(ctx); err != nil && ctx.Err() == nil {
				slog.Error("sqlite: merge: drop merged arrivals", "err", err)
			}
			// Other processes' writers of the store's file (a CLI command
			// beside the server) retry at most every 100 ms and must find
			// it unlocked at some point.
			pause := max(min(took/4, 100*time.Millisecond), mergeGap)
			select {
			case <-stop:
				return
			case <-time.After(pause):
			}
		}
	}
}

// DefaultMergeLogLimit is how many bytes of the write-ahead log may wait
// for a reader before the background merge waits too, unless
// Config.MergeLogLimit says.
const DefaultMergeLogLimit = 1 << 30

// logLimitPages converts a MergeLogLimit in bytes (0: the default) to
// pages of db's file.
func logLimitPages(ctx context.Context, db *sql.DB, limit int64) (int64, error) {
	if limit == 0 {
		limit = DefaultMergeLogLimit
	}
	var size int64
	if err := db.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&size); err != nil {
		return 0, fmt.Errorf("page size: %w", err)
	}
	return max(limit/size, 1), nil
}

// logHeld says whether the write-ahead log held more than the limit at
// the last checkpoint.
func (s *Store) logHeld() bool {
	return s.wal.frames.Load() >= s.logLimit
}

// waitForLog waits while the log is held (logHeld), and reports whether
// stop is still open. No checkpoint copies a page written after the
// snapshot a reader still reads, and the log starts again only once no
// reader reads it, so while a long read runs (a full export, a first
// summary over millions of arrivals) every page the merge writes stays in
// the log: merging 10,000,000 events in random time order into
// 10,000,000 (BenchmarkWritePath) grew it to 52 GB. The merge can wait;
// appends do not (they are requests, and write a few pages a batch where
// a merge out of time order writes some for each event).
func (s *Store) waitForLog(stop <-chan struct{}) bool {
	if !s.logHeld() {
		return true
	}
	s.mergeWaits.Store(true)
	defer s.mergeWaits.Store(false)
	start, warned := time.Now(), false
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for s.logHeld() {
		if !warned && time.Since(start) > time.Minute {
			slog.Warn("sqlite: the merge waits for readers of the write-ahead log to finish", "since", start, "log-pages", s.wal.frames.Load())
			warned = true
		}
		select {
		case <-stop:
			return false
		case <-t.C:
		}
	}
	return true
}

// mergeHook, when set (tests), is called at each point of a merge step.
var mergeHook func(point string)

func (s *Store) hook(point string) {
	if mergeHook != nil {
		mergeHook(point)
	}
}

// mergeStep moves the oldest arrivals, up to size of them, into events
// (sorted by workspace, kind, time and id) and their rollups, and deletes
// them from arrivals, in one transaction; it returns how many it moved
// and about how many are left.
func (s *Store) mergeStep(ctx context.Context, size int) (n int, left int64, err error) {
	s.mergeMu.Lock()
	defer s.mergeMu.Unlock()
	defer s.timed("merge", time.Now())
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: merge: %w", err)
	}
	defer conn.Close()
	// The step's commit need not reach the disk by itself: what it merged
	// stays in the arrivals file, which appends sync, until checkpoints of
	// the store's file, which sync it, have copied it (mergedDrops).
	// Synced, a step's commit wrote hundreds of megabytes to the disk at
	// once, and appends synced behind it.
	if _, err := conn.ExecContext(ctx, `PRAGMA main.synchronous = NORMAL`); err != nil {
		return 0, 0, fmt.Errorf("sqlite: merge: %w", err)
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA main.synchronous = `+s.syncMode); err != nil {
			// The write connection must not keep it.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: merge: %w", err)
	}
	defer tx.Rollback()
	// In chunks: a step that finds writers waiting after a chunk in time
	// order commits what it has moved, so that they wait for a chunk, not
	// a whole step. Arrivals out of order go on for yieldAfter at least:
	// each commit writes every index page their events fell on, and in
	// larger commits more of them share a page.
	waits, began := s.write.Stats().WaitCount, time.Now()
	chunk := mergeChunk
	var to int64
	for n < size {
		moved, upTo, rest, sorted, err := s.mergeIn(ctx, tx, min(chunk, size-n))
		if err != nil {
			s.settleCombos(false)
			return 0, 0, fmt.Errorf("sqlite: merge: %w", err)
		}
		if moved > 0 {
			to = upTo
		}
		n, left = n+moved, rest
		if moved == 0 || (sorted || time.Since(began) >= yieldAfter) && s.writersWaiting(waits) {
			break
		}
		if !sorted {
			// Larger chunks, each inserted in index order, touch each page
			// of the indexes once for more of the step's arrivals.
			chunk = max(size/4, mergeChunk)
		}
	}
	if n == 0 {
		s.settleCombos(false)
		return 0, 0, nil
	}
	s.hook("before-commit")
	err = tx.Commit()
	s.settleCombos(err == nil)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: merge: %w", err)
	}
	s.lastMerged.Store(time.Now().UnixNano())
	s.drops.add(to, s.wal.started.Load())
	s.hook("committed")
	return n, left, nil
}

// mergeIn is a merge step's work, in tx. The step's arrivals are a range
// of seq, which each query reads as such (NOT INDEXED): by the time index
// SQLite would walk every arrival.
func (s *Store) mergeIn(ctx context.Context, tx *sql.Tx, size int) (n int, to, left int64, sorted bool, err error) {
	st, top, err := readArrivalBounds(ctx, tx)
	if err != nil || top == st.mergedTo {
		return 0, 0, 0, false, err
	}
	from := st.mergedTo
	err = tx.QueryRowContext(ctx, `SELECT max(seq), count(*) FROM (SELECT seq FROM `+arrivalsTable+` WHERE seq > ? ORDER BY seq LIMIT ?)`, from, size).Scan(&to, &n)
	if err != nil {
		return 0, 0, 0, false, err
	}
	left = top - to // seqs of rolled back appends leave gaps: about
	// Reads first, then writes: reads and writes on the transaction's
	// connection never interleave.
	var calls []tailRow
	for at, full := from, true; full; {
		var page []tailRow
		if page, at, full, err = readArrivalCalls(ctx, tx, at, to); err != nil {
			return 0, 0, 0, false, err
		}
		calls = append(calls, page...)
	}
	syncs, err := arrivalSyncs(ctx, tx, from, to)
	if err != nil {
		return 0, 0, 0, false, err
	}
	disordered, sorted, err := countDisordered(ctx, tx, from, to)
	if err != nil {
		return 0, 0, 0, false, err
	}
	s.hook("read")
	cols := strings.Join(s.columns, ", ")
	order := ` ORDER BY workspace_id, kind, time_ms, id`
	if sorted {
		order = "" // in seq order already: no sort of the step's rows
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO `+eventsTable+` (`+cols+`) SELECT `+cols+` FROM `+arrivalsTable+` NOT INDEXED
		WHERE seq > ? AND seq <= ?`+order, from, to)
	if err != nil {
		return 0, 0, 0, false, fmt.Errorf("into events: %w", err)
	}
	if moved, err := res.RowsAffected(); err != nil || moved != int64(n) {
		return 0, 0, 0, false, fmt.Errorf("into events: %d of %d arrivals moved (%v)", moved, n, err)
	}
	s.hook("inserted")
	if err := s.rollUp(ctx, tx, s.upserts, calls); err != nil {
		return 0, 0, 0, false, fmt.Errorf("rollups: %w", err)
	}
	for ws, evs := range syncs {
		if err := syncRollups(ctx, tx, ws, evs); err != nil {
			return 0, 0, 0, false, err
		}
	}
	s.hook("rolled-up")
	if _, err := tx.ExecContext(ctx, `UPDATE merge_state SET merged_to = ? WHERE id = 1`, to); err != nil {
		return 0, 0, 0, false, err
	}
	if disordered > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE cluster_state SET disordered = disordered + ? WHERE id = 1`, disordered); err != nil {
			return 0, 0, 0, false, err
		}
	}
	return n, to, left, sorted, nil
}

// DefaultKeepMerged is how many merged arrivals may stay in the arrivals
// file unless Config.KeepMerged says, or as many as the events table
// holds when that is more. Deleting the arrivals of a step out of time
// order takes each one's entry out of the arrivals' time index at a random
// place: at 10,000,000 events, steps of 5,000 that deleted what they merged
// moved 9,105 arrivals a second, steps that left them 15,511 (sqlite3,
// 2026-12-07). Left, they go at once when the merge catches up (the table
// is emptied, not its rows deleted); past the bound, dropKeptStep of the
// oldest at a time. A bound of 5,000,000 alone was reached half way
// through 10,000,000 events in random order into 10,000,000, and the
// merge then moved 1,200-1,300 arrivals a second (BenchmarkWritePath):
// bounded by the events, a load as large as the store never reaches it.
const DefaultKeepMerged = 5_000_000

// refillMax is how many arrivals may wait for the merged ones to go at
// once (dropMergedStep): they are put back one by one, and appends wait.
// A variable for tests.
var refillMax int64 = 10_000

// dropKeptStep is how many merged arrivals past the bound one transaction
// of the append connection deletes: appends wait for it.
const dropKeptStep = 5000

// mergedDrops are the merge steps whose arrivals may leave the arrivals
// file once no reader can still need them: a reader whose snapshot of the
// store's file predates a step's commit, and whose snapshot of the
// arrivals file follows their removal, would see them in neither place.
// A step's arrivals may leave once a checkpoint that began after its
// commit has found the log's size, and the next one has found that much
// of it copied, or the log shorter (checkpointFound).
type mergedDrops struct {
	mu    sync.Mutex
	steps []mergedDrop
}

type mergedDrop struct {
	upTo  int64 // merge_state.merged_to after the step
	after int64 // walState.started when it committed
}

// add records a step that merged every arrival up to upTo, committed
// when after checkpoints had begun.
func (d *mergedDrops) add(upTo, after int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.steps = append(d.steps, mergedDrop{upTo: upTo, after: after})
}

// pending says whether any step's arrivals wait to leave.
func (d *mergedDrops) pending() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.steps) > 0
}

// ready returns the largest seq that may leave by what the latest two
// checkpoints found (0: none), and forgets the steps up to it.
func (d *mergedDrops) ready(found checkpointsFound) int64 {
	p, c := found.prev, found.cur
	if p.seq == 0 || c.seq <= p.seq || c.copied < p.log && c.log >= p.log {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var upTo int64
	gone := 0
	for gone < len(d.steps) && d.steps[gone].after < p.seq {
		upTo = d.steps[gone].upTo
		gone++
	}
	d.steps = d.steps[gone:]
	return upTo
}

// dropMergedArrivals deletes merged arrivals that no reader can still
// need (mergedDrops), on the append connection: all of them at once when
// every arrival in the file is merged, else, while more are kept than the
// bound (DefaultKeepMerged), the oldest, dropKeptStep a transaction.
func (s *Store) dropMergedArrivals(ctx context.Context) error {
	upTo := s.drops.ready(s.wal.latest())
	for upTo > 0 {
		more, emptied, err := s.dropMergedStep(ctx, upTo)
		if err != nil {
			return err
		}
		if emptied {
			return s.giveBackArrivalPages(ctx)
		}
		if !more {
			return nil
		}
	}
	return nil
}

// giveBackArrivalPages gives the arrivals file's free pages back to the
// file system, 2,000 a transaction of the append connection (appends wait
// for one at most): once the table is emptied nearly all are free and at
// the file's end, and giving them back truncates the file.
func (s *Store) giveBackArrivalPages(ctx context.Context) error {
	return giveBackPages(ctx, s.appendDB, nil)
}

// dropMergedStep is a transaction of dropMergedArrivals; more says
// whether the bound is still exceeded, emptied whether it emptied the
// table.
func (s *Store) dropMergedStep(ctx context.Context, upTo int64) (more, emptied bool, err error) {
	tx, err := s.appendDB.BeginTx(ctx, nil)
	if err != nil {
		return false, false, err
	}
	defer tx.Rollback()
	var oldest, top, events int64
	// The largest rowid counts the events without reading them (more after
	// a purge, until the next rewrite).
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT coalesce(min(seq), 0) FROM `+arrivalsTable+`),
		(SELECT coalesce(max(seq), 0) FROM `+arrivalsTable+`),
		(SELECT coalesce(max(rowid), 0) FROM `+eventsTable+`)`).Scan(&oldest, &top, &events); err != nil {
		return false, false, err
	}
	bound := s.keepMerged
	if bound == 0 {
		bound = max(DefaultKeepMerged, events)
	}
	switch {
	case top == 0 || oldest > upTo:
		return false, false, nil
	case top <= upTo:
		// The table's pages go at once, rather than a row and an index
		// entry at a time.
		_, err = tx.ExecContext(ctx, `DELETE FROM `+arrivalsTable)
		emptied = true
	case top-upTo <= refillMax:
		// The same, and the few that wait go back in with their seqs: a
		// read of the waiting arrivals in time order walks past every
		// merged one left (the first logs page took 243 ms beside
		// 3,000,000 of them, BenchmarkWritePath), and while any arrive
		// none would go at once.
		for _, q := range []string{
			`CREATE TEMP TABLE refill AS SELECT * FROM ` + arrivalsTable + ` WHERE seq > ?`,
			`DELETE FROM ` + arrivalsTable,
			`INSERT INTO ` + arrivalsTable + ` SELECT * FROM temp.refill`,
			`DROP TABLE temp.refill`,
		} {
			args := []any{}
			if strings.Contains(q, "?") {
				args = append(args, upTo)
			}
			if _, err = tx.ExecContext(ctx, q, args...); err != nil {
				break
			}
		}
	case upTo-oldest+1 <= bound:
		return false, false, nil
	default:
		drop := min(oldest+dropKeptStep-1, upTo-bound)
		more = drop < upTo-bound
		_, err = tx.ExecContext(ctx, `DELETE FROM `+arrivalsTable+` WHERE seq <= ?`, drop)
	}
	if err != nil {
		return false, false, err
	}
	return more, emptied, tx.Commit()
}

// giveBackMerged gives the file's free pages back to the file system
// (giveBackPages) when they are many and nothing was merged for
// giveBackIdle: the pages of the merged arrivals that a step emptied at
// once (dropMerged) are free, and the events they went into took new
// ones. It stops when arrivals come.
func (s *Store) giveBackMerged(ctx context.Context) error {
	if time.Since(time.Unix(0, s.lastMerged.Load())) < giveBackIdle || s.logHeld() {
		return nil
	}
	free, pages, err := s.freePages(ctx)
	if err != nil {
		return err
	}
	if free < giveBackMin || free*10 < pages {
		return nil
	}
	return s.giveBackPages(ctx, func() bool { return len(s.kick) > 0 || s.logHeld() })
}

// freePages reads how many of the file's pages are free, and how many it
// has.
func (s *Store) freePages(ctx context.Context) (free, pages int64, err error) {
	err = s.read.QueryRowContext(ctx, `SELECT (SELECT freelist_count FROM pragma_freelist_count), (SELECT page_count FROM pragma_page_count)`).Scan(&free, &pages)
	return free, pages, err
}

const (
	// giveBackMin is the fewest free pages the merge gives back (8 MiB of
	// 4 KiB pages).
	giveBackMin = 2048
	// giveBackIdle is how long the merge has nothing to merge before it
	// gives pages back: moving pages slows the reads beside it (the full
	// export of 2,000,000 events, BenchmarkWritePath, ran at 286,270 and
	// 380,803 rows/s while the pages of 1,000,000 arrivals went back,
	// against 745,109 and 776,259 before arrivals stayed), and what
	// comes next takes free pages again. The rewrite in time order, due
	// after a load out of order, also waits for ingest to settle
	// (internal/cli's clusterLoop).
	giveBackIdle = time.Minute
)

// arrivalSyncs reads the sync arrivals in (from, to] of seq, by workspace.
func arrivalSyncs(ctx context.Context, tx *sql.Tx, from, to int64) (map[int64][]*usage.Event, error) {
	cols, err := eventsql.Projection(eventsql.KindColumns(usage.KindSync), syncFields)
	if err != nil {
		return nil, err
	}
	kind := eventsql.KindCode(usage.KindSync)
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT workspace_id FROM `+arrivalsTable+` NOT INDEXED WHERE seq > ? AND seq <= ? AND kind = ?`, from, to, kind)
	if err != nil {
		return nil, err
	}
	var workspaces []int64
	for rows.Next() {
		var ws int64
		if err := rows.Scan(&ws); err != nil {
			rows.Close()
			return nil, err
		}
		workspaces = append(workspaces, ws)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := map[int64][]*usage.Event{}
	for _, ws := range workspaces {
		events, err := eventsql.Query(ctx, tx, usage.KindSync, cols, `SELECT `+eventsql.Names(cols)+` FROM `+arrivalsTable+` NOT INDEXED
			WHERE seq > ? AND seq <= ? AND kind = ? AND workspace_id = ?`, []any{from, to, kind, ws})
		if err != nil {
			return nil, err
		}
		for i := range events {
			out[ws] = append(out[ws], &events[i])
		}
	}
	return out, nil
}

// countDisordered counts the arrivals in (from, to] of seq that are more than
// lateMS older than the newest event of their workspace and kind that
// arrived before them (merged, or earlier in the step): the rewrite in
// time order is due when they are many (cluster.go). sorted says whether
// the step's arrivals came in (workspace, kind, time) order.
func countDisordered(ctx context.Context, tx *sql.Tx, from, to int64) (n int64, sorted bool, err error) {
	type key struct{ ws, kind int64 }
	type arrival struct {
		key
		timeMS int64
	}
	// In Go: a window function over the step cost a sixth of a step.
	rows, err := tx.QueryContext(ctx, `SELECT workspace_id, kind, time_ms FROM `+arrivalsTable+` NOT INDEXED WHERE seq > ? AND seq <= ? ORDER BY seq`, from, to)
	if err != nil {
		return 0, false, err
	}
	var step []arrival
	newest := map[key]int64{}
	for rows.Next() {
		var a arrival
		if err := rows.Scan(&a.ws, &a.kind, &a.timeMS); err != nil {
			rows.Close()
			return 0, false, err
		}
		step = append(step, a)
		newest[a.key] = math.MinInt64
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, false, err
	}
	for k := range newest {
		var t sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT max(time_ms) FROM `+eventsTable+` WHERE workspace_id = ? AND kind = ?`, k.ws, k.kind).Scan(&t); err != nil {
			return 0, false, err
		}
		if t.Valid {
			newest[k] = t.Int64
		}
	}
	sorted = true
	for i, a := range step {
		last := newest[a.key]
		if last != math.MinInt64 && a.timeMS < last-lateMS {
			n++
		}
		newest[a.key] = max(last, a.timeMS)
		if i > 0 {
			p := step[i-1]
			sorted = sorted && (p.ws < a.ws || p.ws == a.ws && (p.kind < a.kind || p.kind == a.kind && p.timeMS <= a.timeMS))
		}
	}
	return n, sorted, nil
}
