//go:build !cgo || purego

package sqlite

import (
	"database/sql"
	"net/url"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Driver names the SQLite library this binary was built with, for logs.
const Driver = "modernc.org/sqlite (pure Go)"

// openDB opens path with the pure-Go SQLite, so that a machine without a C
// compiler still builds and runs usagelog; the file format is the same as
// the cgo build's (driver_cgo.go). Every connection runs pragmas first.
func openDB(path string, pragmas []string, immediate bool) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if immediate {
		q.Set("_txlock", "immediate")
	}
	return sql.Open("sqlite", "file:"+path+"?"+q.Encode())
}
