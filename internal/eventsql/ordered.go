package eventsql

import (
	"context"
	"iter"
	"sync"

	"github.com/usagelog/usagelog/internal/usage"
)

// OrderedBatches is how many batches of scanBatch rows each of
// StreamOrdered's goroutines may decode ahead of the caller: a query of
// about OrderedBatches*scanBatch rows (OrderedRows) is read while the
// caller consumes the one before it.
const (
	OrderedBatches = 8
	OrderedRows    = OrderedBatches * scanBatch
)

// StreamOrdered yields the rows of queries one query after the other, in
// the order given, as Stream does, but decodes them on up to workers
// goroutines at once: query i on goroutine i%workers, each into batches
// of its own, so that memory stays at workers*OrderedBatches batches
// however many rows there are. On a store that reads a page per row (a
// SQLite table filled in random time order) decoding is most of an
// export's time, and it spreads over the cores. The queries should be of
// about OrderedRows rows each: a goroutine waits for the caller once it
// is that far ahead. The yielded event is reused: copy it to keep it.
func StreamOrdered(ctx context.Context, kind usage.Kind, cols []Column, workers int, queries ...func(context.Context) (Rows, error)) iter.Seq2[*usage.Event, error] {
	workers = min(workers, len(queries))
	if workers < 2 {
		return Stream(ctx, kind, cols, queries...)
	}
	return func(yield func(*usage.Event, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer func() {
			cancel()
			wg.Wait()
		}()
		parts := make([]orderedPart, len(queries))
		for i := range parts {
			// Never full: a goroutine has no more batches than this.
			parts[i].full = make(chan []usage.Event, OrderedBatches)
		}
		pools := make([]chan []usage.Event, workers)
		for w := range workers {
			pools[w] = make(chan []usage.Event, OrderedBatches)
			for range OrderedBatches {
				pools[w] <- make([]usage.Event, 0, scanBatch)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				dest := make([]any, len(cols))
				for i := w; i < len(queries); i += workers {
					p := &parts[i]
					p.err = p.fill(ctx, kind, cols, dest, queries[i], pools[w])
					close(p.full)
					if p.err != nil {
						// The caller stops at this query's error, before
						// the next ones of this goroutine.
						return
					}
				}
			}()
		}
		for i := range parts {
			pool := pools[i%workers]
			for batch := range parts[i].full {
				for j := range batch {
					if j%cancelEvery == 0 {
						if err := ctx.Err(); err != nil {
							yield(nil, err)
							return
						}
					}
					if !yield(&batch[j], nil) {
						return
					}
				}
				pool <- batch[:0]
			}
			if err := parts[i].err; err != nil {
				yield(nil, err)
				return
			}
		}
	}
}

// orderedPart is one query of StreamOrdered: its decoded batches, and
// its error, set before full is closed.
type orderedPart struct {
	full chan []usage.Event
	err  error
}

// fill runs query and decodes its rows into batches from free, sending
// each to p.full.
func (p *orderedPart) fill(ctx context.Context, kind usage.Kind, cols []Column, dest []any, query func(context.Context) (Rows, error), free chan []usage.Event) error {
	rows, err := query(ctx)
	if err != nil {
		return err
	}
	// p.full never blocks: this goroutine has no more batches than it holds.
	b := batches{kind: kind, free: free, send: func(batch []usage.Event) error { p.full <- batch; return nil }}
	err = readRows(rows, cols, dest, func() (*usage.Event, error) { return b.slot(ctx) })
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		return b.flush()
	}
	if b.batch != nil {
		free <- b.batch[:0]
	}
	return err
}
