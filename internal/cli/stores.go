package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/alerts"
	"github.com/usagelog/usagelog/internal/clickhouse"
	"github.com/usagelog/usagelog/internal/erasure"
	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/postgres"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/usage"
)

// DefaultDataDir holds the embedded default's files.
const DefaultDataDir = "./usagelog-data"

// stores are the opened event and metadata stores.
type stores struct {
	events httpapi.EventStore
	meta   usage.MetaStore
	// alerts keeps the alert rules: the metadata store, on either engine.
	alerts alerts.Store
	// erasures keeps the erasures (the metadata store), eraser erases
	// events (the event store), on either engine.
	erasures erasure.Store
	eraser   erasure.Events
	close    func() error
	// secret, when the metadata store keeps the server secret (PostgreSQL:
	// every replica shares it), returns it.
	secret func(context.Context) ([]byte, error)
}

// storeConfig chooses the stores: the SQLite file under Data unless a DSN
// names another engine.
type storeConfig struct {
	Data    string
	Events  string
	Meta    string
	Observe func(op string, d time.Duration)
	// Durability is the SQLite files' (--durability).
	Durability string
}

func openStores(ctx context.Context, cfg storeConfig) (*stores, error) {
	chEvents := strings.HasPrefix(cfg.Events, "clickhouse://")
	if cfg.Events != "" && !chEvents && !strings.HasPrefix(cfg.Events, "sqlite:") {
		scheme, _, _ := strings.Cut(cfg.Events, ":")
		return nil, usagef("--events: store %q is not available (want clickhouse://host:9000/db, sqlite:PATH, or nothing for the file under --data)", scheme)
	}
	pgMeta := strings.HasPrefix(cfg.Meta, "postgres://") || strings.HasPrefix(cfg.Meta, "postgresql://")
	if cfg.Meta != "" && !pgMeta && !strings.HasPrefix(cfg.Meta, "sqlite:") {
		scheme, _, _ := strings.Cut(cfg.Meta, ":")
		return nil, usagef("--meta: store %q is not available (want postgres://…, sqlite:PATH, or nothing for the file under --data)", scheme)
	}
	durability, err := sqlite.ParseDurability(cmp.Or(cfg.Durability, string(sqlite.DurabilityFull)))
	if err != nil {
		return nil, usagef("--durability: %v", err)
	}
	if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	// Only the SQLite files a store needs are opened, each once: events
	// and metadata share the file under --data by default.
	st := &stores{}
	var closers []func() error
	st.close = func() error {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		return errors.Join(errs...)
	}
	files := map[string]*sqlite.Store{}
	openSQLite := func(dsn string) (*sqlite.Store, error) {
		path := filepath.Join(cfg.Data, "usagelog.db")
		if p, ok := strings.CutPrefix(dsn, "sqlite:"); ok && p != "" {
			path = p
		}
		if s := files[path]; s != nil {
			return s, nil
		}
		s, err := sqlite.Open(ctx, sqlite.Config{Path: path, Observe: cfg.Observe, Durability: durability})
		if err != nil {
			return nil, err
		}
		files[path] = s
		closers = append(closers, s.Close)
		return s, nil
	}
	if chEvents {
		c, err := clickhouse.Open(ctx, cfg.Events)
		if err != nil {
			return nil, err
		}
		st.events, st.eraser = c, c
		closers = append(closers, c.Close)
	} else {
		s, err := openSQLite(cfg.Events)
		if err != nil {
			return nil, err
		}
		st.events, st.eraser = s, s
	}
	if pgMeta {
		pg, err := postgres.Open(ctx, cfg.Meta)
		if err != nil {
			st.close()
			return nil, err
		}
		st.meta, st.alerts, st.erasures, st.secret = pg, pg, pg, pg.Secret
		closers = append(closers, pg.Close)
	} else {
		// Without --meta the metadata sits beside SQLite events.
		dsn := cfg.Meta
		if dsn == "" && !chEvents {
			dsn = cfg.Events
		}
		s, err := openSQLite(dsn)
		if err != nil {
			st.close()
			return nil, err
		}
		st.meta, st.alerts, st.erasures = s, s, s
	}
	if _, err := st.meta.EnsureWorkspace(ctx, usage.DefaultWorkspace); err != nil {
		st.close()
		return nil, err
	}
	return st, nil
}

// dataFlags are the flags every command that opens stores has.
type dataFlags struct {
	data, events, meta, durability string
}

func (d *dataFlags) register(fs *flagSet) {
	fs.StringVar(&d.data, "data", DefaultDataDir, "directory of the embedded store and export files")
	fs.StringVar(&d.events, "events", "", "events store DSN (default: the SQLite file under --data)")
	fs.StringVar(&d.meta, "meta", "", "metadata store DSN (default: the SQLite file under --data)")
	fs.StringVar(&d.durability, "durability", "full", "SQLite: full syncs every commit to disk (an acknowledged event survives a power loss); normal syncs at checkpoints (faster; the last commits can be lost)")
}

func (d *dataFlags) open(ctx context.Context) (*stores, error) {
	return openStores(ctx, storeConfig{Data: d.data, Events: d.events, Meta: d.meta, Durability: d.durability})
}

// openWorkspace opens the stores and resolves the named workspace; the
// caller closes the stores.
func (d *dataFlags) openWorkspace(ctx context.Context, name string) (*stores, usage.Workspace, error) {
	st, err := d.open(ctx)
	if err != nil {
		return nil, usage.Workspace{}, err
	}
	ws, err := resolveWorkspace(ctx, st.meta, name)
	if err != nil {
		st.close()
		return nil, usage.Workspace{}, err
	}
	return st, ws, nil
}

// resolveWorkspace finds a workspace by name, with a hint when it is missing.
func resolveWorkspace(ctx context.Context, meta usage.MetaStore, name string) (usage.Workspace, error) {
	ws, err := meta.WorkspaceByName(ctx, name)
	if usage.ErrorCode(err) == usage.ENotFound {
		return ws, usagef("workspace %q does not exist (create it with 'usagelog workspaces create %s')", name, name)
	}
	return ws, err
}

// serverSecret is the secret of download links and pseudonyms: given (the
// --secret flag or USAGELOG_SECRET), else the metadata store's when it keeps
// one (PostgreSQL, shared by replicas), else the one in data.
func (st *stores) serverSecret(ctx context.Context, data, given string) ([]byte, error) {
	if given == "" && st.secret != nil {
		return st.secret(ctx)
	}
	return loadSecret(data, given)
}
