// Package postgres is usagelog's metadata store on PostgreSQL, for several
// replicas sharing one database: workspaces, keys, members, sessions,
// settings, export jobs (claimed with FOR UPDATE SKIP LOCKED) and
// schedules, the gateway's collections and clients, and the server secret.
package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/usagelog/usagelog/internal/migration"
	"github.com/usagelog/usagelog/internal/sqlmeta"
	"github.com/usagelog/usagelog/internal/usage"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the MetaStore on PostgreSQL.
type Store struct {
	*sqlmeta.Store
	db *sql.DB
}

var _ usage.MetaStore = (*Store)(nil)

// Open connects to dsn (postgres://user@host:5432/db?sslmode=disable) and
// brings the schema up to date. Replicas starting together apply each
// migration once: the migration runs under an advisory lock.
func Open(ctx context.Context, dsn string) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{db: db, Store: sqlmeta.New(db, db, sqlmeta.Dialect{Name: "postgres", Numbered: true, IsUnique: isUnique})}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// migrationLock keys the advisory lock that serializes migrations.
const migrationLock = 7_405_001

func migrate(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	files, err := migration.List(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	for _, m := range files {
		version, base, body := m.Version, m.Name, m.SQL
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", base, err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
			tx.Rollback()
			return fmt.Errorf("postgres: migration %s: %w", base, err)
		}
		if n == 0 {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				tx.Rollback()
				return fmt.Errorf("postgres: migration %s: %w", base, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, version, time.Now().UnixMilli()); err != nil {
				tx.Rollback()
				return fmt.Errorf("postgres: migration %s: %w", base, err)
			}
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", base, err)
		}
	}
	return nil
}

// Secret returns the server secret every replica shares, creating it
// (32 random bytes) on first use.
func (s *Store) Secret(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("postgres: secret: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO server_secret (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, fresh); err != nil {
		return nil, fmt.Errorf("postgres: secret: %w", err)
	}
	var secret []byte
	if err := s.db.QueryRowContext(ctx, `SELECT secret FROM server_secret WHERE id = 1`).Scan(&secret); err != nil {
		return nil, fmt.Errorf("postgres: secret: %w", err)
	}
	return secret, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes the connections.
func (s *Store) Close() error { return s.db.Close() }
