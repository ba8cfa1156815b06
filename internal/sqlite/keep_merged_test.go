package sqlite_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// TestMergedArrivalsStay: merge steps leave the arrivals they merged in
// the table until the merge catches up. Meanwhile reads, duplicates and
// purges count each event once, an erasure deletes the merged copies too,
// and catching up empties the table.
func TestMergedArrivalsStay(t *testing.T) {
	ctx := context.Background()
	sqlite.SetRefillMax(t, 0) // else the 2,000 waiting go back in alone
	s := sqlitetest.OpenConfig(t, sqlite.Config{ManualMerge: true, MergeStep: 1000})
	events := appendMarked(t, s, 41, 7)
	if n, err := s.MergeStep(ctx); err != nil || n != 1000 {
		t.Fatalf("the step merged %d (%v), want 1000", n, err)
	}
	stored := func(want int64, what string) {
		t.Helper()
		if n, err := sqlite.StoredArrivals(ctx, s, "1"); err != nil || n != want {
			t.Errorf("%s: arrivals holds %d rows (%v), want %d", what, n, err, want)
		}
	}
	stored(3000, "after a step")
	if n, err := s.MergeStatus(ctx); err != nil || n != 2000 {
		t.Errorf("%d arrivals wait (%v), want 2000", n, err)
	}
	windows := []string{"period=90d", "from=2026-07-01"}
	storetest.CompareSummaries(t, s, 1, events, windows, "UTC")
	own := 0 // usagelog's own calls, which the logs leave out unless asked
	for _, e := range events {
		if e.Collection == usage.SelfCollection {
			own++
		}
	}
	if n, err := sqlite.CountEvents(ctx, s, 1, usage.LogFilter{}); err != nil || n != int64(3000-own) {
		t.Errorf("the logs count %d events (%v), want %d", n, err, 3000-own)
	}
	if res, err := s.Append(ctx, 1, events); err != nil || res.Duplicates != 3000 {
		t.Errorf("sent again: %+v (%v), want 3000 duplicates", res, err)
	}

	kept := purgeOld(t, s, events)
	storetest.CompareSummaries(t, s, 1, kept, windows, "UTC")
	if _, err := s.MergeStep(ctx); err != nil {
		t.Fatal(err)
	}

	kept = eraseMarked(t, s, kept, "er-1")
	if n, err := sqlite.StoredArrivals(ctx, s, "member_id = ?", "erase-me"); err != nil || n != 0 {
		t.Errorf("%d rows of arrivals still hold the erased member (%v)", n, err)
	}
	storetest.CompareSummaries(t, s, 1, kept, windows, "UTC")

	if _, err := s.Merge(ctx); err != nil {
		t.Fatal(err)
	}
	stored(0, "merged")
	storetest.CompareSummaries(t, s, 1, kept, windows, "UTC")
}

// appendMarked appends 3,000 calls in no time order (from seed), every
// every-th of member "erase-me", to workspace 1 of s, and returns them.
func appendMarked(t *testing.T, s *sqlite.Store, seed uint64, every int) []usage.Event {
	t.Helper()
	events := storetest.RandomCalls(seed, 3000, storetest.SummaryNow)
	for i := range events {
		if i%every == 0 {
			events[i].MemberID = "erase-me"
		}
	}
	if _, err := s.Append(context.Background(), 1, events); err != nil {
		t.Fatal(err)
	}
	return events
}

// purgeOld purges workspace 1's events of more than 50 days before
// storetest.SummaryNow, checks how many went, and returns those left.
func purgeOld(t *testing.T, s *sqlite.Store, events []usage.Event) []usage.Event {
	t.Helper()
	cutoff := storetest.SummaryNow.Add(-50 * 24 * time.Hour).Truncate(24 * time.Hour)
	kept := slices.DeleteFunc(slices.Clone(events), func(e usage.Event) bool { return e.Time.Before(cutoff) })
	if n, err := s.PurgeEvents(context.Background(), 1, cutoff); err != nil || n != int64(len(events)-len(kept)) {
		t.Errorf("the purge deleted %d (%v), want %d", n, err, len(events)-len(kept))
	}
	return kept
}

// eraseMarked erases member "erase-me" of workspace 1 (erasure id),
// checks how many of kept went, and returns the others.
func eraseMarked(t *testing.T, s *sqlite.Store, kept []usage.Event, id string) []usage.Event {
	t.Helper()
	var erased int64
	for _, e := range kept {
		if e.MemberID == "erase-me" {
			erased++
		}
	}
	res, err := s.Erase(context.Background(), 1, id, usage.ErasureMatch{Field: usage.EraseMemberID, Value: "erase-me"}, false, nil)
	if err != nil || res.Removed[usage.KindAPIRequest] != erased {
		t.Errorf("the erasure removed %v (%v), want %d calls", res.Removed, err, erased)
	}
	return slices.DeleteFunc(slices.Clone(kept), func(e usage.Event) bool { return e.MemberID == "erase-me" })
}

// TestKeepMergedBounds: past Config.KeepMerged, the oldest merged arrivals
// go, so that as many are kept.
func TestKeepMergedBounds(t *testing.T) {
	ctx := context.Background()
	sqlite.SetRefillMax(t, 0)
	s := sqlitetest.OpenConfig(t, sqlite.Config{ManualMerge: true, MergeStep: 500, KeepMerged: 1200})
	if _, err := s.Append(ctx, 1, storetest.RandomCalls(42, 5000, storetest.SummaryNow)); err != nil {
		t.Fatal(err)
	}
	for step, wantKept := range []int64{500, 1000, 1200, 1200, 1200, 1200, 1200, 1200, 1200, 0} {
		if _, err := s.MergeStep(ctx); err != nil {
			t.Fatal(err)
		}
		waiting, err := s.MergeStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := sqlite.StoredArrivals(ctx, s, "1")
		if err != nil {
			t.Fatal(err)
		}
		if rows-waiting != wantKept {
			t.Errorf("after step %d: %d merged arrivals left, want %d", step+1, rows-waiting, wantKept)
		}
	}
}

// TestMergedArrivalsRefill: once few arrivals wait beside the merged ones,
// a step empties the table and puts the waiting ones back with their seqs:
// reads, duplicates (merged and waiting), a purge, an erasure and the
// merge of the rest see each event once.
func TestMergedArrivalsRefill(t *testing.T) {
	ctx := context.Background()
	s := sqlitetest.OpenConfig(t, sqlite.Config{ManualMerge: true, MergeStep: 2500})
	events := appendMarked(t, s, 44, 5)
	if n, err := s.MergeStep(ctx); err != nil || n != 2500 {
		t.Fatalf("the step merged %d (%v), want 2500", n, err)
	}
	if n, err := sqlite.StoredArrivals(ctx, s, "1"); err != nil || n != 500 {
		t.Errorf("arrivals holds %d rows (%v), want the 500 waiting", n, err)
	}
	if n, err := sqlite.StoredArrivals(ctx, s, "seq > 2500"); err != nil || n != 500 {
		t.Errorf("%d arrivals above seq 2500 (%v), want 500: their seqs kept", n, err)
	}
	windows := []string{"period=90d", "from=2026-07-01"}
	storetest.CompareSummaries(t, s, 1, events, windows, "UTC")
	if res, err := s.Append(ctx, 1, events); err != nil || res.Duplicates != 3000 {
		t.Errorf("sent again: %+v (%v), want 3000 duplicates", res, err)
	}
	kept := purgeOld(t, s, events)
	kept = eraseMarked(t, s, kept, "er-2")
	storetest.CompareSummaries(t, s, 1, kept, windows, "UTC")
	if _, err := s.Merge(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.CompareSummaries(t, s, 1, kept, windows, "UTC")
	if n, err := sqlite.StoredArrivals(ctx, s, "1"); err != nil || n != 0 {
		t.Errorf("arrivals holds %d rows once all merged (%v), want 0", n, err)
	}
}

// TestMerged: Merged says whether arrivals wait: none in a new store,
// some after an append and after a step short of the end, none after the
// last step.
func TestMerged(t *testing.T) {
	ctx := context.Background()
	s := sqlitetest.OpenConfig(t, sqlite.Config{ManualMerge: true, MergeStep: 1000})
	merged := func(want bool) {
		t.Helper()
		if got, err := s.Merged(ctx); err != nil || got != want {
			t.Fatalf("Merged = %v, %v; want %v", got, err, want)
		}
	}
	merged(true) // a new store
	if _, err := s.Append(ctx, 1, storetest.RandomCalls(42, 1500, storetest.SummaryNow)); err != nil {
		t.Fatal(err)
	}
	merged(false)
	if n, err := s.MergeStep(ctx); err != nil || n != 1000 {
		t.Fatalf("first step: %d, %v", n, err)
	}
	merged(false) // 500 wait beside the 1,000 merged
	if n, err := s.MergeStep(ctx); err != nil || n != 500 {
		t.Fatalf("second step: %d, %v", n, err)
	}
	merged(true)
}

// TestMergedArrivalsLeaveInTheBackground: with the background merge, the
// arrivals it merged leave the arrivals file once it has caught up, while
// another workspace's client still sends a few now and then.
func TestMergedArrivalsLeaveInTheBackground(t *testing.T) {
	ctx := context.Background()
	s := sqlitetest.OpenConfig(t, sqlite.Config{})
	if _, err := s.Append(ctx, 1, storetest.RandomCalls(45, 20_000, storetest.SummaryNow)); err != nil {
		t.Fatal(err)
	}
	more := storetest.RandomCalls(46, 2000, storetest.SummaryNow)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for i := 0; ; i = (i + 10) % len(more) {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond): // pacing the client, not waiting for a condition
			}
			if _, err := s.Append(ctx, 2, more[i:i+10]); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() { close(stop); <-stopped }()
	waitFor(t, time.Minute, "the merged arrivals to leave", func() bool {
		n, err := sqlite.StoredArrivals(ctx, s, "workspace_id = 1")
		return err == nil && n == 0
	})
}
