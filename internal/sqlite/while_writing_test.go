package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/usagelog/usagelog/internal/storetest"
)

// TestConnectionsOpenWhileWriting: a connection opened while a writer holds
// the file opens and reads. Read connections are opened as requests need
// them (a key's lookup, say): one that ran auto_vacuum first failed with
// "database is locked" while appends committed, and its request with a
// 500 (BenchmarkOTLP, about one run in four from eight clients).
func TestConnectionsOpenWhileWriting(t *testing.T) {
	ctx := context.Background()
	s := openManual(t)
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

// openManual opens a new store in a temporary directory that merges only
// when told, closed when the test ends.
func openManual(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "u.db"), ManualMerge: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSeenGroupsWhileMerging: the seen groups are all there when a merge
// moves their events between the reads of the arrivals and of the merged
// events (a background merge did, and a conformance run found none).
func TestSeenGroupsWhileMerging(t *testing.T) {
	ctx := context.Background()
	s := openManual(t)
	if _, err := s.Append(ctx, 1, storetest.ReportsFixture()); err != nil {
		t.Fatal(err)
	}
	merges := 0
	distinctHook = func() {
		merges++
		if _, err := s.Merge(ctx); err != nil {
			t.Error(err)
		}
	}
	defer func() { distinctHook = nil }()
	now := storetest.ReportsNow
	seen, err := s.SeenGroups(ctx, 1, now.AddDate(0, -6, 0), now)
	if err != nil || len(seen) != 11 || merges != 1 {
		t.Errorf("%d seen groups in 6 months (%v), %d merges between the reads; want 11, 1", len(seen), err, merges)
	}
	if n, err := s.MergeStatus(ctx); err != nil || n != 0 {
		t.Errorf("%d arrivals wait (%v), want all merged", n, err)
	}
}
