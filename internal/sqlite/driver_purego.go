//go:build !cgo || purego

package sqlite

import (
	"context"
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
// the cgo build's (driver_cgo.go). Every connection runs o's pragmas
// first, then attaches o's files and runs o's setup.
func openDB(path string, o dbOptions) (*sql.DB, error) {
	if err := registerOnce(); err != nil {
		return nil, err
	}
	q := url.Values{}
	for _, p := range o.pragmas {
		q.Add("_pragma", p)
	}
	if o.immediate {
		q.Set("_txlock", "immediate")
	}
	return sql.OpenDB(connector{o: o, dsn: "file:" + path + "?" + q.Encode()}), nil
}

type connector struct {
	o   dbOptions
	dsn string
}

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := registered().Open(c.dsn)
	if err != nil {
		return nil, err
	}
	exec := conn.(driver.ExecerContext)
	for _, a := range c.o.attach {
		if _, err := exec.ExecContext(ctx, a.statement(), []driver.NamedValue{{Ordinal: 1, Value: a.uri()}}); err != nil {
			conn.Close()
			return nil, fmt.Errorf("attach %s: %w", a.path, err)
		}
	}
	for _, q := range c.o.setup {
		if _, err := exec.ExecContext(ctx, q, nil); err != nil {
			conn.Close()
			return nil, fmt.Errorf("set up a connection: %w", err)
		}
	}
	return conn, nil
}

func (c connector) Driver() driver.Driver { return registered() }

// registered is the driver that database/sql knows as "sqlite": the
// functions registerOnce registers are on its connections only.
var registered = sync.OnceValue(func() driver.Driver {
	db, _ := sql.Open("sqlite", "") // opens no connection
	defer db.Close()
	return db.Driver()
})

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
