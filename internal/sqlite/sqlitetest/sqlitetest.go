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
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(tb.TempDir(), "usagelog.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}
