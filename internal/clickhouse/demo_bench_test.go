package clickhouse_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/clickhouse"
	"github.com/usagelog/usagelog/internal/demo"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// demoEnd is the newest moment of the demo-shaped bench stores: a Sunday
// morning, so that "now" sits in a quiet hour as well as busy days before.
var demoEnd = time.Date(2026, 11, 1, 10, 7, 0, 0, time.UTC)

// demoStore opens the database usagelog_demo_N and fills it once with
// the demo generator's year (seed 1, ending demoEnd) at the scale that
// gives about n events (the demo's clients, collections, communities,
// statuses, timings and kinds in its proportions; 240,000 events a unit of
// scale), through Append as ingest stores them. Later runs reuse it.
func demoStore(b *testing.B, n int) *clickhouse.Store {
	b.Helper()
	ctx := context.Background()
	scale := math.Round(float64(n)/240_000*100) / 100
	name := fmt.Sprintf("usagelog_demo_%d", n)
	s, err := clickhouse.Open(ctx, "clickhouse://"+server()+"/"+name)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	var total int64
	for _, k := range usage.Kinds {
		c, err := s.Count(ctx, 1, k)
		if err != nil {
			b.Fatal(err)
		}
		total += c
	}
	if total > 0 {
		return s
	}
	start := time.Now()
	// The generator and the inserts run side by side: batches are copied,
	// as the generator reuses its slice.
	batches := make(chan []usage.Event, 4)
	done := make(chan error, 1)
	go func() {
		var err error
		for batch := range batches {
			if err == nil {
				_, err = s.Append(ctx, 1, batch)
			}
		}
		done <- err
	}()
	got, err := demo.Generate(ctx, demo.Config{Seed: 1, End: demoEnd, Scale: scale, BatchSize: s.IngestBatch()},
		func(ctx context.Context, batch []usage.Event) error {
			batches <- slices.Clone(batch)
			return nil
		})
	close(batches)
	if err2 := <-done; err == nil {
		err = err2
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("built %s: %d demo events (scale %g) in %s, %.0f events/s", name, got, scale,
		time.Since(start).Round(time.Second), float64(got)/time.Since(start).Seconds())
	return s
}

// BenchmarkDemoFillClickHouse builds the demo-shaped store of
// USAGELOG_BENCH_CH_EVENTS events (default 1,000,000) if it is missing.
func BenchmarkDemoFillClickHouse(b *testing.B) {
	n := storetest.EnvInt(b, "USAGELOG_BENCH_CH_EVENTS", 1_000_000)
	for b.Loop() {
		demoStore(b, n)
	}
}

// BenchmarkReclassifyClickHouse classifies the calls of the demo-shaped
// store of USAGELOG_BENCH_CH_EVENTS events (default 1,000,000) again, as
// storetest.BenchReclassify does.
func BenchmarkReclassifyClickHouse(b *testing.B) {
	s := demoStore(b, storetest.EnvInt(b, "USAGELOG_BENCH_CH_EVENTS", 1_000_000))
	storetest.BenchReclassify(b, s)
}
