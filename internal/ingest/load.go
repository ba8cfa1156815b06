package ingest

import (
	"context"
	"io"
	"sync"

	"github.com/usagelog/usagelog/internal/usage"
)

// AppendFunc stores one batch of valid events.
type AppendFunc func(ctx context.Context, batch []usage.Event) (usage.AppendResult, error)

// Summary counts what a load did.
type Summary struct {
	Accepted   int
	Duplicates int
	Rejected   int
}

// Load decodes records from dec and stores the valid ones in batches of
// batchSize. Decoding and storing overlap: while one batch is stored the
// next is decoded, so a load runs at the speed of the slower of the two
// rather than their sum. reject is called for every invalid record, in
// order. Batches stored before an error stay stored and are counted.
func Load(ctx context.Context, dec *Decoder, batchSize int, store AppendFunc, reject func(Record)) (Summary, error) {
	if batchSize <= 0 {
		batchSize = 2000
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Two buffers: one being filled, one being stored. The second is taken
	// only when the first is full: most bodies are one batch.
	free := make(chan []usage.Event, 2)
	taken := 1
	defer func() {
		for range taken {
			putBatch(<-free)
		}
	}()
	full := make(chan []usage.Event)
	type outcome struct {
		res usage.AppendResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		var total usage.AppendResult
		var err error
		for batch := range full {
			if err == nil {
				var r usage.AppendResult
				r, err = store(ctx, batch)
				total.Inserted += r.Inserted
				total.Duplicates += r.Duplicates
				if err != nil {
					cancel() // stop the decoder early
				}
			}
			free <- batch[:0]
		}
		done <- outcome{total, err}
	}()

	var sum Summary
	batch := getBatch(batchSize)
	var decodeErr error
	for {
		rec, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			decodeErr = err
			break
		}
		if rec.Err != nil {
			sum.Rejected++
			if reject != nil {
				reject(rec)
			}
			continue
		}
		batch = append(batch, rec.Event)
		if len(batch) == batchSize {
			sent := false
			select {
			case full <- batch:
				sent = true
			case <-ctx.Done():
			}
			if !sent {
				break
			}
			select {
			case batch = <-free:
			default:
				if taken < 2 {
					taken++
					batch = getBatch(batchSize)
				} else {
					batch = <-free
				}
			}
			if ctx.Err() != nil {
				break
			}
		}
	}
	// batch is the decoder's own here: stored, or back with the others.
	if len(batch) > 0 && ctx.Err() == nil {
		full <- batch
	} else {
		free <- batch
	}
	close(full)
	out := <-done
	sum.Accepted, sum.Duplicates = out.res.Inserted, out.res.Duplicates
	if out.err != nil {
		return sum, out.err
	}
	if decodeErr != nil {
		return sum, decodeErr
	}
	return sum, ctx.Err()
}

// batches keeps event buffers between loads: a batch of 10,000 events is
// 8 MB (816 bytes an event), which every ingest request would otherwise
// allocate and zero.
var batches sync.Pool

func getBatch(n int) []usage.Event {
	if p, ok := batches.Get().(*[]usage.Event); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]usage.Event, 0, n)
}

func putBatch(b []usage.Event) {
	clear(b[:cap(b)]) // drop the events' strings before the buffer waits
	batches.Put(&b)
}
