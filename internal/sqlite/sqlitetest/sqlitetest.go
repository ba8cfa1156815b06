// Package sqlitetest opens throwaway SQLite stores for other packages'
// tests, as net/http/httptest starts throwaway servers.
package sqlitetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/usage"
)

// Open opens a new, empty store in tb's temporary directory, closed when
// tb ends.
func Open(tb testing.TB) *sqlite.Store {
	tb.Helper()
	return OpenConfig(tb, sqlite.Config{})
}

// OpenConfig is Open with cfg, its path a new file in tb's temporary
// directory unless it names one.
func OpenConfig(tb testing.TB, cfg sqlite.Config) *sqlite.Store {
	tb.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(tb.TempDir(), "usagelog.db")
	}
	st, err := sqlite.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// Merging is a store whose Append merges after it, as far as Steps merge
// steps go (0: every arrival): for tests that read a store with every
// event merged, or with some merged and some waiting (Steps < 0: none
// merged by Append). Open it with
// sqlite.Config.ManualMerge.
type Merging struct {
	*sqlite.Store
	Steps int
}

// Append appends, then merges.
func (m Merging) Append(ctx context.Context, workspaceID int64, events []usage.Event) (usage.AppendResult, error) {
	res, err := m.Store.Append(ctx, workspaceID, events)
	if err != nil {
		return res, err
	}
	if m.Steps == 0 {
		_, err = m.Store.Merge(ctx)
	} else {
		for range m.Steps {
			if _, err = m.Store.MergeStep(ctx); err != nil {
				break
			}
		}
	}
	return res, err
}
