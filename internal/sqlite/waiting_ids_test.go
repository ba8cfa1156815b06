package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// idBatch is n api calls with ids prefix-000 and on, from the fixture.
func idBatch(prefix string, from, n int) []usage.Event {
	ev := storetest.Fixture(n)
	for i := range ev {
		ev[i].ID = fmt.Sprintf("%s-%03d", prefix, from+i)
	}
	return ev
}

// TestDuplicatesWithoutAnArrivalIndex appends ids that the workspace has
// waiting, merged, both, or not, found without an index of the arrivals'
// ids (waiting_ids.go): by the same process, after it reopens the file,
// and by another store on the same file.
func TestDuplicatesWithoutAnArrivalIndex(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usagelog.db")
	s := sqlitetest.OpenConfig(t, sqlite.Config{Path: path, ManualMerge: true, MergeStep: 30})
	other := sqlitetest.OpenConfig(t, sqlite.Config{Path: path, ManualMerge: true, MergeStep: 30})
	if res, err := s.Append(ctx, 1, idBatch("a", 0, 100)); err != nil || res != (usage.AppendResult{Inserted: 100}) {
		t.Fatalf("first append: %+v, %v", res, err)
	}
	// a-000..a-029 merged, the rest waiting.
	if n, err := s.MergeStep(ctx); err != nil || n != 30 {
		t.Fatalf("merge step: %d, %v", n, err)
	}
	for _, tc := range []struct {
		name  string
		store func() *sqlite.Store
		ws    int64
		batch []usage.Event
		want  usage.AppendResult
	}{
		{"merged and waiting, same process", func() *sqlite.Store { return s }, 1, idBatch("a", 0, 100), usage.AppendResult{Duplicates: 100}},
		{"half new, same process", func() *sqlite.Store { return s }, 1, idBatch("a", 50, 100), usage.AppendResult{Inserted: 50, Duplicates: 50}},
		{"another workspace", func() *sqlite.Store { return s }, 2, idBatch("a", 0, 10), usage.AppendResult{Inserted: 10}},
		{"another store on the file", func() *sqlite.Store { return other }, 1, idBatch("a", 140, 20), usage.AppendResult{Inserted: 10, Duplicates: 10}},
		{"what the other store appended", func() *sqlite.Store { return s }, 1, idBatch("a", 145, 10), usage.AppendResult{Duplicates: 10}},
		{"what this store appended, to the other", func() *sqlite.Store { return other }, 1, idBatch("a", 0, 150), usage.AppendResult{Duplicates: 150}},
		{"reopened", func() *sqlite.Store {
			return sqlitetest.OpenConfig(t, sqlite.Config{Path: path, ManualMerge: true})
		}, 1, idBatch("a", 0, 160), usage.AppendResult{Duplicates: 160}},
	} {
		res, err := tc.store().Append(ctx, tc.ws, tc.batch)
		if err != nil || res != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, res, err, tc.want)
		}
	}
	if _, err := s.Merge(ctx); err != nil {
		t.Fatal(err)
	}
	// Everything merged: the events table's index finds them.
	if res, err := s.Append(ctx, 1, idBatch("a", 0, 161)); err != nil || res != (usage.AppendResult{Inserted: 1, Duplicates: 160}) {
		t.Errorf("after the merge: %+v, %v; want 1 inserted, 160 duplicates", res, err)
	}
	if n, err := s.Count(ctx, 1, usage.KindAPIRequest); err != nil || n != 161 {
		t.Errorf("workspace 1 holds %d calls (%v), want 161", n, err)
	}
}

// TestDuplicatesInAGroup stores three appends of one workspace in one
// transaction (an append holds the append connection while they
// queue): the second repeats ids of the first, which count as
// duplicates; the third fails, and its ids, rolled back, are stored when
// they come again.
func TestDuplicatesInAGroup(t *testing.T) {
	ctx := context.Background()
	s := sqlitetest.OpenConfig(t, sqlite.Config{ManualMerge: true})
	calls := 0
	release := holdWriter(t, s, func(ws int64, group int) error {
		if calls++; calls == 3 {
			return errors.New("failed on purpose")
		}
		return nil
	})
	batches := [][]usage.Event{idBatch("b", 0, 20), idBatch("b", 10, 20), idBatch("c", 0, 20)}
	answers := make([]chan appendAnswer, len(batches))
	for i, batch := range batches {
		answers[i] = make(chan appendAnswer, 1)
		go func() {
			res, err := s.Append(ctx, 1, batch)
			answers[i] <- appendAnswer{res, err}
		}()
		// Queued in this order: the hook fails the third.
		waitFor(t, time.Minute, fmt.Sprintf("%d appends queued", i+1), func() bool { return sqlite.WaitingAppends(s) == i+1 })
	}
	release()
	for i, want := range []usage.AppendResult{{Inserted: 20}, {Inserted: 10, Duplicates: 10}} {
		if got := <-answers[i]; got.err != nil || got.res != want {
			t.Errorf("append %d: %+v, %v; want %+v", i, got.res, got.err, want)
		}
	}
	if got := <-answers[2]; got.err == nil {
		t.Errorf("append 2: %+v, want the hook's error", got.res)
	}
	sqlite.SetAppendHook(nil)
	if res, err := s.Append(ctx, 1, idBatch("c", 0, 20)); err != nil || res != (usage.AppendResult{Inserted: 20}) {
		t.Errorf("the failed append again: %+v, %v; want 20 inserted", res, err)
	}
	if n, err := s.Count(ctx, 1, usage.KindAPIRequest); err != nil || n != 10+30+20 {
		t.Errorf("workspace 1 holds %d calls (%v), want 60", n, err)
	}
}
