package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// TestMergeWaitsForReader: while a reader keeps an old snapshot and more
// of the write-ahead log than MergeLogLimit waits for it, the background
// merge waits and appends go on; once the reader is done the merge
// finishes, and every event is there once.
func TestMergeWaitsForReader(t *testing.T) {
	ctx := context.Background()
	s := sqlitetest.OpenConfig(t, sqlite.Config{MergeStep: 2000, MergeLogLimit: 2 << 20})
	events := storetest.RandomCalls(43, 60_000, storetest.SummaryNow) // in no time order
	release, err := sqlite.HoldRead(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	// Appends until the merge waits: the checkpointer looks once a second.
	sent := 0
	deadline := time.Now().Add(time.Minute)
	for !sqlite.MergeWaits(s) {
		if time.Now().After(deadline) {
			t.Fatalf("the merge did not wait for the reader after %d events", sent)
		}
		// The last batch is for the append below.
		if sent < len(events)-2000 {
			if _, err := s.Append(ctx, 1, events[sent:sent+2000]); err != nil {
				t.Fatal(err)
			}
			sent += 2000
		}
		time.Sleep(20 * time.Millisecond) // pacing the appends, not waiting for a condition
	}
	waiting, err := s.MergeStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := s.Append(ctx, 1, events[sent:sent+2000]); err != nil || res.Inserted != 2000 {
		t.Fatalf("an append while the merge waits: %+v, %v", res, err)
	}
	sent += 2000
	// Two checkpoints later (a second at least) it still waits, and has
	// merged nothing.
	checks := sqlite.Checkpoints(s)
	waitFor(t, 30*time.Second, "two checkpoints", func() bool { return sqlite.Checkpoints(s) >= checks+2 })
	if !sqlite.MergeWaits(s) {
		t.Error("the merge stopped waiting while the reader still reads")
	}
	if n, err := s.MergeStatus(ctx); err != nil || n != waiting+2000 {
		t.Errorf("%d arrivals wait (%v), want %d: the merge went on", n, err, waiting+2000)
	}

	if err := release(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "the merge to finish", func() bool {
		n, err := s.MergeStatus(ctx)
		return err == nil && n == 0
	})
	if sqlite.MergeWaits(s) {
		t.Error("the merge still waits with no reader")
	}
	storetest.CompareSummaries(t, s, 1, events[:sent], []string{"period=90d"}, "UTC")
	own := 0
	for _, e := range events[:sent] {
		if e.Collection == usage.SelfCollection {
			own++
		}
	}
	if n, err := sqlite.CountEvents(ctx, s, 1, usage.LogFilter{}); err != nil || n != int64(sent-own) {
		t.Errorf("the logs count %d events (%v), want %d", n, err, sent-own)
	}
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", limit, what)
		}
	}
}
