package cli

import (
	"io"
	"testing"
)

// TestRowProgress: a bar that starts as a spinner (total unknown) and
// learns the total later shows the share of every row written, not of
// those written since.
func TestRowProgress(t *testing.T) {
	for _, tc := range []struct {
		name  string
		calls [][2]int64 // written, total
		want  int64
	}{
		{"total known first", [][2]int64{{0, 10_000}, {6_000, 10_000}}, 6_000},
		{"total known late", [][2]int64{{0, -1}, {4_987, -1}, {5_013, -1}, {6_000, 10_000}}, 6_000},
		{"total known late, then more rows", [][2]int64{{0, -1}, {5_013, -1}, {6_000, 10_000}, {9_000, 10_000}}, 9_000},
		{"estimate raised to the rows written", [][2]int64{{0, -1}, {7_000, 10_000}, {10_500, 10_500}}, 10_500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bar := newProgressBar(Env{Stderr: io.Discard}, "api-usage", -1, "rows")
			progress := rowProgress(bar)
			for _, c := range tc.calls {
				progress(c[0], c[1])
			}
			last := tc.calls[len(tc.calls)-1]
			st := bar.State()
			if st.CurrentNum != tc.want || st.Max != last[1] {
				t.Errorf("bar at %d of %d, want %d of %d", st.CurrentNum, st.Max, tc.want, last[1])
			}
		})
	}
}
