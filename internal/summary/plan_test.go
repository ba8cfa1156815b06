package summary

import (
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// TestPlanFilter: whole quarter hours from the rollups and the ends from
// the events; usagelog's own calls, a window of no whole quarter hour and
// a filter on a field the rollups do not keep, from the events alone.
func TestPlanFilter(t *testing.T) {
	at := func(s string) int64 { t, _ := time.Parse(time.RFC3339, s); return t.UnixMilli() }
	from, to := at("2026-11-03T09:07:00Z"), at("2026-11-03T12:40:00Z")
	lo, hi := at("2026-11-03T09:15:00Z"), at("2026-11-03T12:30:00Z")
	for _, c := range []struct {
		name       string
		f          usage.LogFilter
		rolled     bool
		scans      int
		wholeScans bool
	}{
		{"None", usage.LogFilter{}, true, 2, false},
		{"RolledFields", usage.LogFilter{Clients: []string{"a"}, StatusClasses: []int{5}, UsageType: usage.TypeMCP}, true, 2, false},
		{"Self", usage.LogFilter{Collections: []string{usage.SelfCollection}}, false, 1, true},
		{"SelfAndOther", usage.LogFilter{Collections: []string{usage.SelfCollection, "x"}}, true, 3, false},
		{"Method", usage.LogFilter{Methods: []string{"POST"}}, false, 1, true},
		{"MethodAndClient", usage.LogFilter{Methods: []string{"POST"}, Clients: []string{"a"}}, false, 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := PlanFilter(c.f, from, to)
			if (p.Rolled != nil) != c.rolled || len(p.Scans) != c.scans {
				t.Fatalf("plan %+v: rolled %v and %d scans, want %v and %d", p, p.Rolled != nil, len(p.Scans), c.rolled, c.scans)
			}
			if p.Rolled != nil && (p.Rolled.Lo != lo || p.Rolled.Hi != hi || !p.Rolled.Filter.From.IsZero()) {
				t.Errorf("rolled span %+v, want %d to %d without times", p.Rolled, lo, hi)
			}
			if c.wholeScans && (p.Scans[0].From.UnixMilli() != from || p.Scans[0].To.UnixMilli() != to) {
				t.Errorf("scan %v to %v, want the whole window", p.Scans[0].From, p.Scans[0].To)
			}
		})
	}
	if p := PlanFilter(usage.LogFilter{}, at("2026-11-03T09:01:00Z"), at("2026-11-03T09:14:00Z")); p.Rolled != nil || len(p.Scans) != 1 {
		t.Errorf("no whole quarter hour: %+v", p)
	}
}
