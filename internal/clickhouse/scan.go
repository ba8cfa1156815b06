package clickhouse

import (
	"context"
	"iter"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/usage"
)

// stream runs query (? placeholders bound to args) and yields its rows as
// events of kind with the columns cols, in the order the query gives. Scans
// (the exports) read through clickhouse-go's native interface, not
// database/sql, which boxes every cell into a driver.Value and converts it
// again on Scan (BenchmarkExportClickHouse).
func (s *Store) stream(ctx context.Context, kind usage.Kind, cols []eventsql.Column, query string, args []any) iter.Seq2[*usage.Event, error] {
	return eventsql.Stream(ctx, kind, cols, func(ctx context.Context) (eventsql.Rows, error) {
		return s.conn.Query(ctx, query, args...)
	})
}
