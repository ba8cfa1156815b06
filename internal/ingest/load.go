package ingest

import (
	"context"
	"io"

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

	// Two buffers: one being filled, one being stored.
	free := make(chan []usage.Event, 2)
	free <- make([]usage.Event, 0, batchSize)
	free <- make([]usage.Event, 0, batchSize)
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
	batch := <-free
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
			select {
			case full <- batch:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
			batch = <-free
		}
	}
	if len(batch) > 0 && ctx.Err() == nil {
		full <- batch
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
