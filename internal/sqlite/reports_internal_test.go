package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/usagelog/usagelog/internal/storetest"
)

// TestSeenGroupsWhileMerging: the seen groups are all there when a merge
// moves their events between the reads of the arrivals and of the merged
// events (a background merge did, and a conformance run found none).
func TestSeenGroupsWhileMerging(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "u.db"), ManualMerge: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Append(ctx, 1, storetest.ReportsFixture()); err != nil {
		t.Fatal(err)
	}
	merges := 0
	distinctHook = func() {
		merges++
		if _, err := s.Merge(ctx); err != nil {
			t.Error(err)
		}
	}
	defer func() { distinctHook = nil }()
	now := storetest.ReportsNow
	seen, err := s.SeenGroups(ctx, 1, now.AddDate(0, -6, 0), now)
	if err != nil || len(seen) != 11 || merges != 1 {
		t.Errorf("%d seen groups in 6 months (%v), %d merges between the reads; want 11, 1", len(seen), err, merges)
	}
	if n, err := s.MergeStatus(ctx); err != nil || n != 0 {
		t.Errorf("%d arrivals wait (%v), want all merged", n, err)
	}
}
