// Package sqlite is usagelog's embedded store: events and metadata in one
// SQLite file, in WAL mode so that readers never wait for the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/usagelog/usagelog/internal/migration"
	"github.com/usagelog/usagelog/internal/sqlmeta"
	"github.com/usagelog/usagelog/internal/usage"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config configures a Store.
type Config struct {
	// Path is the database file.
	Path string
	// Observe, when set, is told how long each store operation took.
	Observe func(op string, d time.Duration)
	// Durability is DurabilityFull (the default) or DurabilityNormal.
	Durability Durability
	// MergeStep is how many arrivals one merge step moves into events and
	// the rollups (0: the background merge sizes its steps by how long
	// they take, starting at DefaultMergeStep).
	MergeStep int
	// ManualMerge leaves the arrivals where they are until Merge is
	// called, rather than merging them in the background: for tests and
	// benchmarks that look at a store with arrivals waiting.
	ManualMerge bool
	// ClusterAfter is how many events stored out of time order make a
	// rewrite of the table in time order due (0: DefaultClusterAfter).
	ClusterAfter int
	// KeepMerged is how many merged arrivals may stay in the arrivals
	// table until the merge catches up (0: DefaultKeepMerged, or as many
	// as the events table holds; merge.go).
	KeepMerged int
	// MergeLogLimit is how many bytes of the write-ahead log may wait for
	// a reader (that still reads the store as it was) before the
	// background merge waits for it too (0: DefaultMergeLogLimit).
	MergeLogLimit int64
}

// Durability says when a commit reaches the disk.
type Durability string

const (
	// DurabilityFull syncs the write-ahead log at every commit: an
	// acknowledged batch survives a power loss.
	DurabilityFull Durability = "full"
	// DurabilityNormal syncs it at checkpoints only: the last commits
	// before a power loss (not a crash of the process) can be lost.
	DurabilityNormal Durability = "normal"
)

// ParseDurability reads --durability.
func ParseDurability(s string) (Durability, error) {
	switch d := Durability(s); d {
	case DurabilityFull, DurabilityNormal:
		return d, nil
	}
	return "", fmt.Errorf("unknown durability %q (want full or normal)", s)
}

// Validate reports what is wrong with c.
func (c Config) Validate() error {
	if c.Path == "" {
		return errors.New("sqlite: path is required")
	}
	if c.MergeStep < 0 {
		return fmt.Errorf("sqlite: merge step %d is negative", c.MergeStep)
	}
	if c.ClusterAfter < 0 {
		return fmt.Errorf("sqlite: cluster after %d is negative", c.ClusterAfter)
	}
	if c.KeepMerged < 0 {
		return fmt.Errorf("sqlite: keep merged %d is negative", c.KeepMerged)
	}
	if c.MergeLogLimit < 0 {
		return fmt.Errorf("sqlite: merge log limit %d is negative", c.MergeLogLimit)
	}
	if c.Durability != "" {
		if _, err := ParseDurability(string(c.Durability)); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
	}
	return nil
}

// Store is both the EventStore and the MetaStore of the embedded default;
// the metadata methods are sqlmeta's, on the same file.
type Store struct {
	*sqlmeta.Store
	path     string  // of the store's file; the arrivals' is arrivalsPath(path)
	syncMode string  // PRAGMA synchronous of the store's file (Config.Durability)
	write    *sql.DB // one connection: SQLite has one writer a file
	appendDB *sql.DB // the arrivals file's writer (arrivals_file.go)
	read     *sql.DB

	checkpoints     *sql.DB // one connection, for checkpointLoop
	stopCheckpoints chan struct{}
	checkpointed    chan struct{} // closed when checkpointLoop ends
	wal             walState      // what checkpointLoop last found
	// The arrivals file's checkpointer, stopped with the store's.
	arrivalCheckpoints   *sql.DB
	arrivalsCheckpointed chan struct{}
	arrivalWAL           walState
	observe              func(op string, d time.Duration)

	insertMu sync.Mutex
	inserts  map[insertKey]*sql.Stmt
	appends  appendQueue
	waiting  waitingIDs  // the waiting arrivals' ids (waiting_ids.go)
	drops    mergedDrops // merged arrivals that may leave (merge.go)
	upserts  []*sql.Stmt // rollup upserts by upsertSizes
	counted  countMemo   // the latest CountLogs
	combos   combos

	stopPreload context.CancelFunc // stops waiting.preload (Close)

	columns []string // of events and arrivals
	stored  string   // both tables as one (storedEventsOf)
	tail    tailCache

	mergeMu       sync.Mutex // one merge step at a time
	mergeStepSize int
	fixedStep     bool          // Config.MergeStep set: steps of that size
	keepMerged    int64         // Config.KeepMerged (0: the default bound)
	logLimit      int64         // Config.MergeLogLimit, in pages
	mergeWaits    atomic.Bool   // the merge waits for a reader (waitForLog)
	lastMerged    atomic.Int64  // when a merge step last committed (Unix ns)
	kick          chan struct{} // arrivals to merge
	stopMerge     chan struct{}
	merged        chan struct{} // closed when the merge loop ends

	clusterAfter int64
	clusterMu    sync.Mutex // one rewrite at a time
	scanWorkers  int

	closeOnce sync.Once
	closeErr  error
}

var (
	_ usage.EventStore = (*Store)(nil)
	_ usage.MetaStore  = (*Store)(nil)
	_ usage.LogScanner = (*Store)(nil)
)

// Open opens (creating if needed) the database file and brings its schema
// up to date.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	path, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// The write-ahead log is copied back into the file by a checkpointer
	// of its own (checkpoint.go), not by the commit that fills it.
	syncMode := "FULL"
	if cfg.Durability == DurabilityNormal {
		syncMode = "NORMAL"
	}
	// auto_vacuum takes effect only in a file that has no tables yet: new
	// stores give pages freed by the janitor back; older ones reuse them.
	// Only the write connection, which makes the tables, sets it: setting
	// it needs the file's write lock, so a read or checkpoint connection
	// opened while a transaction wrote failed "database is locked", and a
	// request that needed a new read connection with it
	// (TestConnectionsOpenWhileWriting). On the write connection
	// busy_timeout stays after it for now: with busy_timeout first,
	// 1,000,000 events in random order into 1,000,000 were taken at
	// 35,622-45,788 events/s in three runs against 49,044-57,400 in six
	// runs of builds without it (BenchmarkWritePath; the log's largest size
	// varied from 0.5 to 3.6 GB either way). Not understood yet.
	pragmas := []string{"busy_timeout(" + strconv.Itoa(busyTimeoutMS) + ")", "journal_mode(WAL)", "synchronous(" + syncMode + ")", "foreign_keys(ON)", "cache_size(-65536)", "wal_autocheckpoint(0)"}
	if err := createArrivalsFile(ctx, path); err != nil {
		return nil, fmt.Errorf("sqlite: arrivals file: %w", err)
	}
	// The store's file's connections attach the arrivals file read-only,
	// the append connection the store's file (arrivals_file.go).
	withArrivals := []attachment{{path: arrivalsPath(path), schema: arrivalsSchema, readOnly: true}}
	views := []string{waitingViewSQL}
	write, err := openDB(path, dbOptions{pragmas: append([]string{"auto_vacuum(INCREMENTAL)"}, pragmas...), immediate: true, attach: withArrivals, setup: views})
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	write.SetMaxOpenConns(1)
	var dbs []*sql.DB
	closeAll := func() {
		for _, db := range dbs {
			db.Close()
		}
	}
	dbs = append(dbs, write)
	// query_only once the view is made: a TEMP view is a write.
	read, err := openDB(path, dbOptions{pragmas: append(pragmas, "mmap_size(2147418112)"), attach: withArrivals, setup: append(views, "PRAGMA query_only(1)")})
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	dbs = append(dbs, read)
	read.SetMaxOpenConns(8)
	ckpt, err := openDB(path, dbOptions{pragmas: pragmas})
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	dbs = append(dbs, ckpt)
	ckpt.SetMaxOpenConns(1)
	appendDB, err := openDB(arrivalsPath(path), dbOptions{pragmas: pragmas, immediate: true,
		attach: []attachment{{path: path, schema: storeSchema, readOnly: true}}, setup: views})
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	dbs = append(dbs, appendDB)
	appendDB.SetMaxOpenConns(1)
	arrivalCkpt, err := openDB(arrivalsPath(path), dbOptions{pragmas: pragmas})
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	arrivalCkpt.SetMaxOpenConns(1)
	s := &Store{path: path, syncMode: syncMode, write: write, read: read, appendDB: appendDB, checkpoints: ckpt, arrivalCheckpoints: arrivalCkpt, observe: cfg.Observe, scanWorkers: defaultScanWorkers(), inserts: map[insertKey]*sql.Stmt{}, mergeStepSize: cfg.MergeStep,
		keepMerged: int64(cfg.KeepMerged),
		kick:       make(chan struct{}, 1),
		waiting:    newWaitingIDs(),
		combos:     combos{ids: map[int64]map[combo]int64{}, pending: map[int64]map[combo]int64{}},
		Store: sqlmeta.New(write, read, sqlmeta.Dialect{Name: "sqlite", IsUnique: func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
		}})}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.logLimit, err = logLimitPages(ctx, s.write, cfg.MergeLogLimit); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if s.fixedStep = s.mergeStepSize > 0; !s.fixedStep {
		s.mergeStepSize = DefaultMergeStep
	}
	if s.columns, err = eventColumns(ctx, s.write); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	s.stored = storedEventsOf(s.columns)
	if s.clusterAfter = int64(cfg.ClusterAfter); s.clusterAfter <= 0 {
		s.clusterAfter = DefaultClusterAfter
	}
	if s.upserts, err = prepareUpserts(ctx, s.write); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// Arrivals that the last run merged may still be in the arrivals file.
	var mergedTo int64
	if err := s.write.QueryRowContext(ctx, `SELECT merged_to FROM merge_state WHERE id = 1`).Scan(&mergedTo); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	s.drops.add(mergedTo, 0)
	preloadCtx, stopPreload := context.WithCancel(context.WithoutCancel(ctx))
	s.stopPreload = stopPreload
	go s.waiting.preload(preloadCtx, s.read)
	s.stopCheckpoints = make(chan struct{})
	s.checkpointed, s.arrivalsCheckpointed = make(chan struct{}), make(chan struct{})
	go checkpointLoop(s.checkpoints, s.write, &s.mergeMu, &s.wal, min(walResetFrames, max(s.logLimit/4, 1)), s.stopCheckpoints, s.checkpointed)
	// The arrivals file's writer is the append connection. Its log starts
	// again only once nobody reads it, and a merge step reads the arrivals
	// file from its first chunk to its commit, seconds later, one step
	// after another: with the merge running free the log grew to 1,255 MB
	// while 3,000,000 events came (BenchmarkWritePath), so it is held back
	// for the restart as for the store's.
	go checkpointLoop(s.arrivalCheckpoints, s.appendDB, &s.mergeMu, &s.arrivalWAL, walResetFrames, s.stopCheckpoints, s.arrivalsCheckpointed)
	if !cfg.ManualMerge {
		s.stopMerge, s.merged = make(chan struct{}), make(chan struct{})
		go s.mergeLoop(s.stopMerge)
		s.kick <- struct{}{} // arrivals left by the last run
	}
	return s, nil
}

// migrate applies, in order and each once, the embedded migrations not yet
// recorded in schema_migrations.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	files, err := migration.List(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	for _, m := range files {
		if m.Version == arrivalsFileMigration {
			err = settleArrivals(ctx, s.path)
		} else {
			err = s.applyMigration(ctx, m.Version, m.SQL)
		}
		if err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", m.Name, err)
		}
	}
	// Columns that later migrations added to events, and a sequence the
	// arrivals file lost (a file copied without it).
	if err := settleArrivals(ctx, s.path); err != nil {
		return fmt.Errorf("sqlite: arrivals file: %w", err)
	}
	return nil
}

// rollupMigrations are the migrations that create rollup tables, and the
// kind of the events stored before them that applying them rolls up.
var rollupMigrations = map[int64]usage.Kind{
	6: usage.KindSync,       // sync_rollups
	7: usage.KindAPIRequest, // rollups by hour
	9: usage.KindAPIRequest, // rollups without usagelog's own calls
}

// beforeMigrations is what must happen, in the same transaction, before a
// migration's SQL runs.
var beforeMigrations = map[int64]func(ctx context.Context, s *Store, tx *sql.Tx) error{
	19: rollUpOldTail, // arrivals
}

func (s *Store) applyMigration(ctx context.Context, version int64, body string) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if before, ok := beforeMigrations[version]; ok {
		if err := before(ctx, s, tx); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return err
	}
	if kind, ok := rollupMigrations[version]; ok {
		if err := s.rebuildRollups(ctx, tx, kind); err != nil {
			return fmt.Errorf("rollups of the stored events: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, time.Now().UnixMilli()); err != nil {
		return err
	}
	err = tx.Commit()
	s.settleCombos(err == nil)
	return err
}

func (s *Store) timed(op string, start time.Time) {
	if s.observe != nil {
		s.observe(op, time.Since(start))
	}
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes the database; calling it again is harmless, since the store
// serves as both the event and the metadata store.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		// A merge step under way finishes (or rolls back); the arrivals
		// left wait for the next run.
		if s.stopMerge != nil {
			close(s.stopMerge)
			<-s.merged
		}
		if s.stopCheckpoints != nil {
			close(s.stopCheckpoints)
			<-s.checkpointed
			<-s.arrivalsCheckpointed
		}
		if s.stopPreload != nil {
			s.stopPreload()
			<-s.waiting.ready
		}
		// Fold the WAL back so the file stands alone.
		s.insertMu.Lock()
		for _, st := range s.inserts {
			st.Close()
		}
		for _, st := range s.upserts {
			st.Close()
		}
		s.insertMu.Unlock()
		_, _ = s.write.Exec(`PRAGMA main.wal_checkpoint(TRUNCATE)`)
		_, _ = s.appendDB.Exec(`PRAGMA main.wal_checkpoint(TRUNCATE)`)
		s.closeErr = errors.Join(s.read.Close(), s.checkpoints.Close(), s.arrivalCheckpoints.Close(), s.appendDB.Close(), s.write.Close())
	})
	return s.closeErr
}
