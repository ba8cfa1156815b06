package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// TestAppendsShareATransaction holds the append connection with an append
// while three appends of two workspaces arrive: they are stored as
// one group, and the one that fails (by the hook) is rolled back alone.
func TestAppendsShareATransaction(t *testing.T) {
	ctx := context.Background()
	s := sqlitetest.OpenConfig(t, sqlite.Config{ManualMerge: true})
	batch := func(prefix string, n int) []usage.Event { return idBatch(prefix, 0, n) }
	groups := make(chan int, 3)
	release := holdWriter(t, s, func(ws int64, group int) error {
		groups <- group
		if ws == 2 {
			return errors.New("failed on purpose")
		}
		return nil
	})
	answers := map[string]chan appendAnswer{}
	for _, a := range []struct {
		name string
		ws   int64
	}{{"a", 1}, {"b", 2}, {"c", 1}} {
		answers[a.name] = make(chan appendAnswer, 1)
		go func() {
			res, err := s.Append(ctx, a.ws, batch(a.name, 20))
			answers[a.name] <- appendAnswer{res, err}
		}()
	}
	for deadline := time.Now().Add(time.Minute); sqlite.WaitingAppends(s) < 3; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d appends wait after a minute, want 3", sqlite.WaitingAppends(s))
		}
	}
	release()
	for _, name := range []string{"a", "b", "c"} {
		got := <-answers[name]
		if failed := got.err != nil; failed != (name == "b") {
			t.Errorf("append %s: %+v, %v", name, got.res, got.err)
		} else if !failed && got.res != (usage.AppendResult{Inserted: 20}) {
			t.Errorf("append %s: %+v, want 20 inserted", name, got.res)
		}
	}
	for range 3 {
		if g := <-groups; g != 3 {
			t.Errorf("an append was stored in a group of %d, want 3", g)
		}
	}
	for ws, want := range map[int64]int64{1: 50, 2: 0} {
		if n, err := s.Count(ctx, ws, usage.KindAPIRequest); err != nil || n != want {
			t.Errorf("workspace %d holds %d calls (%v), want %d", ws, n, err, want)
		}
	}
}

// appendAnswer is what an Append returned.
type appendAnswer struct {
	res usage.AppendResult
	err error
}

// holdWriter starts an append of 10 arrivals to workspace 1 that holds the
// append connection until release is called, which waits for it to be
// stored. Meanwhile the append hook is hook (for the appends that queue),
// until the test ends.
func holdWriter(t *testing.T, s *sqlite.Store, hook func(workspaceID int64, group int) error) (release func()) {
	t.Helper()
	ctx := context.Background()
	holding, released := make(chan struct{}), make(chan struct{})
	var held atomic.Bool
	sqlite.SetAppendHook(func(ws int64, group int) error {
		if held.CompareAndSwap(false, true) {
			close(holding)
			<-released
			return nil
		}
		return hook(ws, group)
	})
	t.Cleanup(func() { sqlite.SetAppendHook(nil) })
	stored := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, 1, idBatch("waiting", 0, 10))
		stored <- err
	}()
	wait(t, holding, "the holding append")
	return func() {
		close(released)
		if err := <-stored; err != nil {
			t.Fatal(err)
		}
	}
}

// wait waits for c to close, or fails the test after a minute.
func wait(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(time.Minute):
		t.Fatalf("waited a minute for %s", what)
	}
}

// TestAppendsDoNotWaitForTheMerge: an append is stored while a merge step
// holds the store's file's write connection, and the step then commits.
func TestAppendsDoNotWaitForTheMerge(t *testing.T) {
	ctx := context.Background()
	s := sqlitetest.OpenConfig(t, sqlite.Config{ManualMerge: true, MergeStep: 10_000})
	if _, err := s.Append(ctx, 1, idBatch("waiting", 0, 5000)); err != nil {
		t.Fatal(err)
	}
	appended := make(chan error, 1)
	held := false
	sqlite.SetMergeHook(func(point string) {
		if point != "inserted" || held {
			return
		}
		held = true
		go func() {
			_, err := s.Append(ctx, 1, idBatch("new", 0, 10))
			appended <- err
		}()
		select {
		case err := <-appended:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(time.Minute):
			t.Error("an append waited a minute for the merge step")
		}
	})
	t.Cleanup(func() { sqlite.SetMergeHook(nil) })
	if n, err := s.MergeStep(ctx); err != nil || n != 5000 {
		t.Fatalf("the step moved %d arrivals (%v), want 5000", n, err)
	}
	if left, err := s.MergeStatus(ctx); err != nil || left != 10 {
		t.Errorf("%d arrivals wait (%v), want 10", left, err)
	}
	if n, err := s.Count(ctx, 1, usage.KindAPIRequest); err != nil || n != 5010 {
		t.Errorf("%d calls stored (%v), want 5010", n, err)
	}
}

// TestMergeStepYieldsToWriters starts a merge step of 10,000 arrivals and,
// once it has moved its first chunk, a change of the store's metadata,
// which waits for the write connection. Of arrivals in time order the step
// commits that chunk and no more, and the change is made after it; of
// arrivals out of order it goes on until it has run the time it runs
// before it yields (an hour here: to its end; none: that chunk), since
// each commit writes the index pages its events fell on.
func TestMergeStepYieldsToWriters(t *testing.T) {
	for _, tc := range []struct {
		name     string
		shuffled bool
		after    time.Duration
		moved    int
	}{
		{"in time order", false, time.Hour, sqlite.MergeChunk},
		{"out of order", true, time.Hour, 10_000},
		{"out of order, yielding at once", true, 0, sqlite.MergeChunk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sqlite.SetYieldAfter(t, tc.after)
			ctx := context.Background()
			s := sqlitetest.OpenConfig(t, sqlite.Config{ManualMerge: true, MergeStep: 10_000})
			waiting := storetest.Fixture(10_000)
			for i := range waiting {
				waiting[i].ID = fmt.Sprintf("waiting-%05d", i)
			}
			if tc.shuffled {
				// Times out of order; ids, which an append stores in
				// their order, in the new one.
				rand.New(rand.NewPCG(1, 2)).Shuffle(len(waiting), func(i, j int) { waiting[i].Time, waiting[j].Time = waiting[j].Time, waiting[i].Time })
			}
			if _, err := s.Append(ctx, 1, waiting); err != nil {
				t.Fatal(err)
			}
			written := make(chan error, 1)
			chunks := 0
			sqlite.SetMergeHook(func(point string) {
				if point != "inserted" {
					return
				}
				if chunks++; chunks > 1 {
					return
				}
				waits := sqlite.WriterWaits(s)
				go func() {
					_, err := s.EnsureWorkspace(ctx, "another")
					written <- err
				}()
				for deadline := time.Now().Add(time.Minute); sqlite.WriterWaits(s) == waits; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Error("no writer waits after a minute")
						return
					}
				}
			})
			t.Cleanup(func() { sqlite.SetMergeHook(nil) })
			n, err := s.MergeStep(ctx)
			if err != nil || n != tc.moved {
				t.Errorf("the step moved %d arrivals (%v), want %d", n, err, tc.moved)
			}
			select {
			case err := <-written:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(time.Minute):
				t.Fatal("the change was not made in a minute")
			}
			if left, err := s.MergeStatus(ctx); err != nil || left != int64(10_000-tc.moved) {
				t.Errorf("%d arrivals wait (%v), want %d", left, err, 10_000-tc.moved)
			}
		})
	}
}
