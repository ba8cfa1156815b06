//go:build cgo && !purego

package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"

	"github.com/mattn/go-sqlite3"

	"github.com/usagelog/usagelog/internal/summary"
)

// Driver names the SQLite library this binary was built with, for logs.
const Driver = "mattn/go-sqlite3 (cgo)"

// openDB opens path with the C SQLite library when a C compiler was at hand:
// it inserts about twice as fast as the pure-Go translation (BenchmarkAppend),
// which builds without cgo take instead (driver_purego.go). Every connection
// runs o's pragmas first, then attaches o's files and runs o's setup.
func openDB(path string, o dbOptions) (*sql.DB, error) {
	drv := &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		// The rollups add their cells up in their upserts.
		if err := c.RegisterFunc(cellsMergeFunc, summary.MergeCells, true); err != nil {
			return fmt.Errorf("register %s: %w", cellsMergeFunc, err)
		}
		if err := c.RegisterFunc(quartersMergeFunc, summary.MergeQuarters, true); err != nil {
			return fmt.Errorf("register %s: %w", quartersMergeFunc, err)
		}
		for _, p := range o.pragmas {
			if _, err := c.Exec("PRAGMA "+p, nil); err != nil {
				return fmt.Errorf("pragma %s: %w", p, err)
			}
		}
		for _, a := range o.attach {
			if _, err := c.Exec(a.statement(), []driver.Value{a.uri()}); err != nil {
				return fmt.Errorf("attach %s: %w", a.path, err)
			}
		}
		for _, q := range o.setup {
			if _, err := c.Exec(q, nil); err != nil {
				return fmt.Errorf("set up a connection: %w", err)
			}
		}
		return nil
	}}
	// database/sql hands a connection to one goroutine at a time, so
	// SQLite's own lock around every call on it is not needed: without it
	// an export spends 15% less of its time locking and unlocking a mutex
	// for each column of each row.
	q := url.Values{"_mutex": {"no"}}
	if o.immediate {
		q.Set("_txlock", "immediate")
	}
	return sql.OpenDB(connector{drv: drv, dsn: "file:" + path + "?" + q.Encode()}), nil
}

type connector struct {
	drv *sqlite3.SQLiteDriver
	dsn string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.drv }
