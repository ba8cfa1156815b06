package clickhouse

import (
	"context"
	"iter"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/usage"
)

// Scans (the exports) read through clickhouse-go's native interface, not
// database/sql: database/sql boxes every cell into a driver.Value and
// converts it again on Scan, which was most of the time of a million-row
// export (BenchmarkExportClickHouse).

// stream runs query (? placeholders bound to args) and yields its rows as
// events of kind with the columns cols, in the order the query gives.
func (s *Store) stream(ctx context.Context, kind usage.Kind, cols []eventsql.Column, query string, args []any) iter.Seq2[*usage.Event, error] {
	return eventsql.Pipe(ctx, kind, func(ctx context.Context, slot func() (*usage.Event, error)) error {
		rows, err := s.conn.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		dest := make([]any, len(cols))
		for rows.Next() {
			e, err := slot()
			if err != nil {
				return err
			}
			for i, c := range cols {
				dest[i] = nativeDest(c.Ptr(e))
			}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// nativeDest adapts a scan destination that clickhouse-go's native Scan
// does not take: it fills *int64 but not *int.
func nativeDest(p any) any {
	if n, ok := p.(*int); ok {
		return intDest{n}
	}
	return p
}

type intDest struct{ p *int }

func (d intDest) Scan(src any) error {
	n, _ := src.(int64)
	*d.p = int(n)
	return nil
}
