package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/usagelog/usagelog/internal/migration"
	"github.com/usagelog/usagelog/internal/usage"
)

// SetChunkRows makes s scan in pieces of at least n events.
func SetChunkRows(s *Store, n int64) { s.chunkRows = n }

// MigrateOnly applies the first n migrations to a new database dsn, as a
// store made before the later ones has it.
func MigrateOnly(ctx context.Context, dsn string, n int) (*Store, error) {
	s, err := Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	files, err := migration.List(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	// Undo the migrations after the first n, newest first.
	for i := len(files) - 1; i >= n; i-- {
		name := strings.TrimSuffix(files[i].Name, ".sql")
		if _, table, ok := strings.Cut(name, "_"); ok {
			if strings.HasSuffix(table, "_view") {
				if _, err := s.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
					return nil, err
				}
			} else if !strings.HasSuffix(table, "_fill") {
				if _, err := s.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
					return nil, err
				}
			}
		}
	}
	s.eventsOnly = n < 58
	s.noErased = n < 81
	if _, err := s.db.ExecContext(ctx, "DROP TABLE schema_migrations"); err != nil {
		return nil, err
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE schema_migrations (version Int64, applied_ms Int64) ENGINE = MergeTree() ORDER BY version`); err != nil {
		return nil, err
	}
	var versions, applied []int64
	for _, m := range files[:n] {
		versions, applied = append(versions, m.Version), append(applied, 0)
	}
	return s, s.insert(ctx, "INSERT INTO schema_migrations (version, applied_ms)", []any{versions, applied})
}

// ClusterMigrations are the embedded cluster schema's SQL.
func ClusterMigrations() ([]migration.File, error) {
	return migration.List(clusterMigrations, "cluster")
}

// Migrations are the embedded migrations' SQL.
func Migrations() ([]migration.File, error) { return migration.List(migrations, "migrations") }

// QueryRow runs a query of one value on s.
func QueryRow(ctx context.Context, s *Store, query string, dest any) error {
	return s.db.QueryRowContext(ctx, query).Scan(dest)
}

// MoveCalls moves the rollups of the calls between from and to that rules
// classify differently, without rewriting the events: what a run that
// stopped between the two leaves.
func MoveCalls(ctx context.Context, s *Store, workspaceID int64, rules usage.Classifier, from, to time.Time) error {
	_, typ := classifySQL(rules)
	return s.moveCalls(ctx, workspaceID, typ, from.UnixMilli(), to.UnixMilli())
}

// Columns lists the columns (name and type) of every table of s's
// database.
func Columns(ctx context.Context, s *Store) (map[string][]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT table, name, type FROM system.columns WHERE database = currentDatabase()`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var table, name, typ string
		if err := rows.Scan(&table, &name, &typ); err != nil {
			return nil, err
		}
		out[table] = append(out[table], name+" "+typ)
	}
	return out, rows.Err()
}

// Exec runs a statement on s's connection, with its settings.
func Exec(ctx context.Context, s *Store, query string) error {
	_, err := s.db.ExecContext(ctx, query)
	return err
}

// ExecOnShards runs on one replica of each shard of s's cluster, all at
// once, the statement that stmt makes for the shard's index (from 0, in
// remote_servers' order, as the Distributed tables number them) of shards.
func ExecOnShards(ctx context.Context, s *Store, stmt func(shard, shards int) string) error {
	shards := s.cluster.shardReplicas()
	errs := make([]error, len(shards))
	var wg sync.WaitGroup
	for i, sh := range shards {
		wg.Go(func() {
			if _, err := s.cluster.nodeDB(sh.addrs[0]).ExecContext(ctx, stmt(i, len(shards))); err != nil {
				errs[i] = fmt.Errorf("%s: %w", sh.addrs[0], err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// RollupBuffers are the rollups' Buffer tables, rollup_incoming_buffer
// first.
var RollupBuffers = rollupBuffers
