// Package sqlitetest opens throwaway SQLite stores for other packages'
// tests, as net/http/httptest starts throwaway servers.
package sqlitetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/usagelog/usagelog/internal/sqlite"
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
