package sqlite

import (
	"context"
	"hash/maphash"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// TestWaitingIDsReadTheRow gives an id the hash entry of another: the
// row read for it has the other id, so it is no duplicate.
func TestWaitingIDsReadTheRow(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "u.db"), ManualMerge: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.Append(ctx, 1, []usage.Event{{ID: "a", Kind: usage.KindAPIRequest, Time: at}}); err != nil {
		t.Fatal(err)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	mergedTo, err := s.waiting.catchUp(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	w := &s.waiting
	w.seqs[maphash.Comparable(w.seed, waitingKey{1, "b"})] = w.seqs[maphash.Comparable(w.seed, waitingKey{1, "a"})]
	got, err := w.find(ctx, tx, 1, mergedTo, []string{"a", "b"})
	if err != nil || !maps.Equal(got, map[string]struct{}{"a": {}}) {
		t.Errorf("found %v (%v), want a only", got, err)
	}
	if got, err := w.find(ctx, tx, 2, mergedTo, []string{"a"}); err != nil || len(got) != 0 {
		t.Errorf("workspace 2 found %v (%v), want none", got, err)
	}
}

// TestWaitingIDsDropMerged forgets the entries at or below merged_to,
// those of shared hashes too.
func TestWaitingIDsDropMerged(t *testing.T) {
	for _, tc := range []struct {
		name           string
		seqs, wantSeqs map[uint64]int64
		more, wantMore map[uint64][]int64
		mergedTo       int64
	}{
		{"none merged", map[uint64]int64{1: 5, 2: 6}, map[uint64]int64{1: 5, 2: 6}, nil, map[uint64][]int64{}, 4},
		{"some merged", map[uint64]int64{1: 5, 2: 6}, map[uint64]int64{2: 6}, nil, map[uint64][]int64{}, 5},
		{"a shared hash, first merged", map[uint64]int64{1: 5}, map[uint64]int64{1: 7}, map[uint64][]int64{1: {7, 8}}, map[uint64][]int64{1: {8}}, 5},
		{"a shared hash, all merged", map[uint64]int64{1: 5}, map[uint64]int64{}, map[uint64][]int64{1: {6}}, map[uint64][]int64{}, 6},
		{"a shared hash, later ones merged", map[uint64]int64{1: 9}, map[uint64]int64{1: 9}, map[uint64][]int64{1: {6, 7}}, map[uint64][]int64{}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := waitingIDs{seqs: tc.seqs, more: tc.more}
			if w.more == nil {
				w.more = map[uint64][]int64{}
			}
			w.dropMerged(tc.mergedTo)
			if !maps.Equal(w.seqs, tc.wantSeqs) || !maps.EqualFunc(w.more, tc.wantMore, slices.Equal) {
				t.Errorf("left %v and %v, want %v and %v", w.seqs, w.more, tc.wantSeqs, tc.wantMore)
			}
		})
	}
}
