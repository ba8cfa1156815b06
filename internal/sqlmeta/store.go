// Package sqlmeta is the MetaStore on a SQL database: workspaces, keys,
// members, sessions, settings, export jobs and schedules, the gateway's
// collections and clients. One implementation serves SQLite (the embedded
// default, which shares its file with the events) and PostgreSQL (several
// replicas); a Dialect holds the few places where they differ.
package sqlmeta

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// Dialect is what differs between the engines.
type Dialect struct {
	// Name prefixes errors and chooses the job claim.
	Name string
	// Numbered says placeholders are $1, $2 (PostgreSQL), not ?.
	Numbered bool
	// IsUnique reports whether err is a unique-constraint violation.
	IsUnique func(err error) bool
}

// Store implements usage.MetaStore but Close (and Ping): the engine's
// package owns the connections.
type Store struct {
	write, read *sql.DB
	d           Dialect
}

// New returns the store on write (the connection that changes things) and
// read (the pool that reads; the same as write is fine). The caller owns
// both and applies the schema.
func New(write, read *sql.DB, d Dialect) *Store {
	return &Store{write: write, read: read, d: d}
}

// rebind turns ? and ?N placeholders into $N where the dialect wants them.
func (s *Store) rebind(q string) string {
	if !s.d.Numbered {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			b.WriteByte('$')
			if j > i+1 {
				b.WriteString(q[i+1 : j])
			} else {
				n++
				b.WriteString(strconv.Itoa(n))
			}
			i = j - 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.write.ExecContext(ctx, s.rebind(q), args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.read.QueryContext(ctx, s.rebind(q), args...)
}

// queryW reads through the writing connection: what a claim reads must be
// what the last write left.
func (s *Store) queryW(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.write.QueryContext(ctx, s.rebind(q), args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.read.QueryRowContext(ctx, s.rebind(q), args...)
}

// queryRowW reads through the write connection: an UPDATE … RETURNING.
func (s *Store) queryRowW(ctx context.Context, q string, args ...any) *sql.Row {
	return s.write.QueryRowContext(ctx, s.rebind(q), args...)
}

// flag scans a boolean stored as BOOLEAN or as INTEGER 0/1.
type flag struct{ b *bool }

func (f flag) Scan(src any) error {
	switch v := src.(type) {
	case bool:
		*f.b = v
	case int64:
		*f.b = v != 0
	default:
		*f.b = false
	}
	return nil
}

type scanner interface{ Scan(...any) error }

// collect scans every row of a query's answer with scan.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
