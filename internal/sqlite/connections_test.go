package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestConnectionsOpenWhileWriting: a connection opened while a writer holds
// the file opens and reads. Read connections are opened as requests need
// them (a key's lookup, say): one that ran auto_vacuum first failed with
// "database is locked" while appends committed, and its request with a
// 500 (BenchmarkOTLP, about one run in four from eight clients).
func TestConnectionsOpenWhileWriting(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "u.db"), ManualMerge: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE merge_state SET generation = generation + 1`); err != nil {
		t.Fatal(err)
	}
	for _, db := range []struct {
		name string
		db   *sql.DB
	}{{"read", s.read}, {"checkpoint", s.checkpoints}} {
		db.db.SetMaxIdleConns(0) // the next connection is a new one
		c, err := db.db.Conn(ctx)
		if err != nil {
			t.Errorf("%s: a new connection while a writer writes: %v", db.name, err)
			continue
		}
		var merged int64
		if err := c.QueryRowContext(ctx, `SELECT merged_to FROM merge_state`).Scan(&merged); err != nil {
			t.Errorf("%s: read: %v", db.name, err)
		}
		c.Close()
	}
}
