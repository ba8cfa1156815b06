package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/usagelog/usagelog/internal/sqlite"
)

// TestDurability: a store syncs every commit unless told normal.
func TestDurability(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		d    sqlite.Durability
		want int
	}{{"", 2}, {sqlite.DurabilityFull, 2}, {sqlite.DurabilityNormal, 1}} {
		s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "u.db"), Durability: c.d})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := sqlite.Synchronous(ctx, s); err != nil || got != c.want {
			t.Errorf("durability %q: synchronous = %d (%v), want %d", c.d, got, err, c.want)
		}
		s.Close()
	}
	if _, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "u.db"), Durability: "sometimes"}); err == nil {
		t.Error("durability \"sometimes\" opened")
	}
}
