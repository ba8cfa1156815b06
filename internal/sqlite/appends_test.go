package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// TestAppendsShareATransaction holds the write connection with a merge
// step while three appends of two workspaces arrive: they are stored as
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

// holdWriter appends arrivals to s and starts a merge step of them that
// holds the write connection until release is called, which waits for the
// step to commit. Meanwhile it sets hook as the append hook (for the
// appends that queue), until the test ends.
func holdWriter(t *testing.T, s *sqlite.Store, hook func(workspaceID int64, group int) error) (release func()) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Append(ctx, 1, idBatch("waiting", 0, 10)); err != nil {
		t.Fatal(err)
	}
	holding, released := make(chan struct{}), make(chan struct{})
	sqlite.SetMergeHook(func(point string) {
		if point == "read" {
			close(holding)
			<-released
		}
	})
	t.Cleanup(func() { sqlite.SetMergeHook(nil) })
	merged := make(chan error, 1)
	go func() {
		_, err := s.MergeStep(ctx)
		merged <- err
	}()
	wait(t, holding, "the merge step")
	sqlite.SetAppendHook(hook)
	t.Cleanup(func() { sqlite.SetAppendHook(nil) })
	return func() {
		close(released)
		if err := <-merged; err != nil {
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

// TestMergeStepYieldsToAppends starts a merge step of 10,000 arrivals and,
// once it has moved its first chunk, an append. Of arrivals in time order
// the step commits that chunk and no more, and the append is stored after
// it; of arrivals out of order it goes on to its end, since each commit
// writes the index pages its events fell on.
func TestMergeStepYieldsToAppends(t *testing.T) {
	for _, tc := range []struct {
		name     string
		shuffled bool
		moved    int
	}{
		{"in time order", false, sqlite.MergeChunk},
		{"out of order", true, 10_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := sqlitetest.OpenConfig(t, sqlite.Config{ManualMerge: true, MergeStep: 10_000})
			batch := func(prefix string, n int) []usage.Event {
				ev := storetest.Fixture(n)
				for i := range ev {
					ev[i].ID = fmt.Sprintf("%s-%05d", prefix, i)
				}
				return ev
			}
			waiting := batch("waiting", 10_000)
			if tc.shuffled {
				// Times out of order; ids, which an append stores in
				// their order, in the new one.
				rand.New(rand.NewPCG(1, 2)).Shuffle(len(waiting), func(i, j int) { waiting[i].Time, waiting[j].Time = waiting[j].Time, waiting[i].Time })
			}
			if _, err := s.Append(ctx, 1, waiting); err != nil {
				t.Fatal(err)
			}
			appended := make(chan error, 1)
			chunks := 0
			sqlite.SetMergeHook(func(point string) {
				if point != "inserted" {
					return
				}
				if chunks++; chunks > 1 {
					return
				}
				go func() {
					_, err := s.Append(ctx, 1, batch("new", 10))
					appended <- err
				}()
				for deadline := time.Now().Add(time.Minute); sqlite.WaitingAppends(s) == 0; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						t.Error("no append waits after a minute")
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
			case err := <-appended:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(time.Minute):
				t.Fatal("the append was not stored in a minute")
			}
			if left, err := s.MergeStatus(ctx); err != nil || left != int64(10_000-tc.moved+10) {
				t.Errorf("%d arrivals wait (%v), want %d", left, err, 10_000-tc.moved+10)
			}
		})
	}
}
