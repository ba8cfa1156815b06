//go:build !cgo || purego

package sqlite

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"sync"

	"modernc.org/sqlite"

	"github.com/usagelog/usagelog/internal/summary"
)

// Driver names the SQLite library this binary was built with, for logs.
const Driver = "modernc.org/sqlite (pure Go)"

// openDB opens path with the pure-Go SQLite, so that a machine without a C
// compiler still builds and runs usagelog; the file format is the same as
// the cgo build's (driver_cgo.go). Every connection runs pragmas first.
func openDB(path string, pragmas []string, immediate bool) (*sql.DB, error) {
	if err := registerOnce(); err != nil {
		return nil, err
	}
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if immediate {
		q.Set("_txlock", "immediate")
	}
	return sql.Open("sqlite", "file:"+path+"?"+q.Encode())
}

// registerOnce registers the rollups' merges with the driver, for
// every connection it opens from then on.
var registerOnce = sync.OnceValue(func() error {
	for name, merge := range map[string]func(a, b []byte) []byte{cellsMergeFunc: summary.MergeCells, quartersMergeFunc: summary.MergeQuarters} {
		err := sqlite.RegisterDeterministicScalarFunction(name, 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			a, _ := args[0].([]byte)
			b, _ := args[1].([]byte)
			return merge(a, b), nil
		})
		if err != nil {
			return fmt.Errorf("register %s: %w", name, err)
		}
	}
	return nil
})
