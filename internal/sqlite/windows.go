package sqlite

import (
	"context"
	"database/sql"
	"runtime"
	"time"

	"github.com/usagelog/usagelog/internal/eventsql"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// defaultScanWorkers is how many goroutines decode a scan's rows at
// once: a core each, up to half the read connections.
func defaultScanWorkers() int { return min(runtime.GOMAXPROCS(0), 4) }

// logWindows splits f into filters of consecutive time windows, newest
// first, of about eventsql.OrderedRows matching calls each (as many calls
// in each as in an even spread over the time the calls span), for
// eventsql.StreamOrdered to read side by side. Every call f matches is in
// exactly one window: the newest keeps f's end and the oldest its start.
func (s *Store) logWindows(ctx context.Context, workspaceID int64, f usage.LogFilter) ([]usage.LogFilter, error) {
	// Not worth a count: a short range (a summary's edges), or one that
	// takes usagelog's own calls, which the count reads row by row.
	if _, self, _ := f.SplitSelf(); self != nil || !summary.Rolled(&f) || (!f.From.IsZero() && !f.To.IsZero() && f.To.Sub(f.From) < time.Hour) {
		return []usage.LogFilter{f}, nil
	}
	n, ok := s.counted.lookup(workspaceID, f)
	var err error
	if !ok {
		if n, err = s.countLogs(ctx, workspaceID, f); err != nil {
			return nil, err
		}
	}
	parts := n / eventsql.OrderedRows
	if parts < 2 {
		return []usage.LogFilter{f}, nil
	}
	// The calls' first and last times in f's range: an index seek each.
	lo, hi := int64(-1<<63), int64(1<<63-1)
	if !f.From.IsZero() {
		lo = f.From.UnixMilli()
	}
	if !f.To.IsZero() {
		hi = f.To.UnixMilli()
	}
	var first, last sql.NullInt64
	err = s.read.QueryRowContext(ctx, timeSpanSQL(), workspaceID, eventsql.KindCode(usage.KindAPIRequest), lo, hi).Scan(&first, &last)
	if err != nil {
		return nil, err
	}
	if !first.Valid || !last.Valid {
		return []usage.LogFilter{f}, nil
	}
	span := last.Int64 + 1 - first.Int64
	parts = min(parts, span)
	windows := make([]usage.LogFilter, parts)
	for i := range windows {
		w := f
		if i > 0 {
			w.To = time.UnixMilli(last.Int64 + 1 - span*int64(i)/parts)
		}
		if i < len(windows)-1 {
			w.From = time.UnixMilli(last.Int64 + 1 - span*int64(i+1)/parts)
		}
		windows[i] = w
	}
	return windows, nil
}
