package sqlite

import "testing"

// TestMergedDropsReady: a step's arrivals may leave once a checkpoint that
// began after its commit has found the log's size, and the next one has
// found that much copied, or the log started again; steps leave in order.
func TestMergedDropsReady(t *testing.T) {
	type look struct {
		found []checkpointFound // as they end
		want  int64
	}
	for _, tc := range []struct {
		name  string
		steps [][2]int64 // upTo, after
		looks []look
	}{
		{"copied past the commit", [][2]int64{{10, 3}}, []look{
			{[]checkpointFound{{seq: 3, log: 90, copied: 90}}, 0},  // began before the commit
			{[]checkpointFound{{seq: 4, log: 100, copied: 50}}, 0}, // the log's size: 100
			{[]checkpointFound{{seq: 5, log: 120, copied: 99}}, 0},
			{[]checkpointFound{{seq: 6, log: 130, copied: 120}}, 10},
			{[]checkpointFound{{seq: 7, log: 130, copied: 130}}, 0}, // gone
		}},
		{"started again", [][2]int64{{10, 0}}, []look{
			{[]checkpointFound{{seq: 1, log: 100, copied: 10}, {seq: 2, log: 0, copied: 0}}, 10},
		}},
		{"in order", [][2]int64{{10, 1}, {20, 2}, {30, 5}}, []look{
			{[]checkpointFound{{seq: 3, log: 50, copied: 0}, {seq: 4, log: 60, copied: 50}}, 20},
			{[]checkpointFound{{seq: 6, log: 70, copied: 60}, {seq: 7, log: 80, copied: 69}}, 0},
			{[]checkpointFound{{seq: 8, log: 80, copied: 80}}, 30},
		}},
		{"one that ends after a later one does not count", [][2]int64{{10, 0}}, []look{
			{[]checkpointFound{{seq: 2, log: 100, copied: 0}, {seq: 1, log: 50, copied: 50}}, 0},
			{[]checkpointFound{{seq: 3, log: 100, copied: 100}}, 10},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w walState
			var d mergedDrops
			for _, s := range tc.steps {
				d.add(s[0], s[1])
			}
			for i, l := range tc.looks {
				for _, f := range l.found {
					w.found(f.seq, f.log, f.copied)
				}
				if got := d.ready(w.latest()); got != l.want {
					t.Errorf("look %d (%+v): %d may leave, want %d", i, w.latest(), got, l.want)
				}
			}
		})
	}
}
