package summary

import (
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// Step is the length of a summary's buckets: whole hours, six-hour blocks
// or days of the summary's zone.
type Step int

// The steps of the summary API's periods.
const (
	StepHour Step = iota
	StepSixHours
	StepDay
)

// Seconds is the step's nominal length.
func (s Step) Seconds() int64 {
	switch s {
	case StepHour:
		return 3600
	case StepSixHours:
		return 6 * 3600
	}
	return 86400
}

// hours are the local hours at which the step's buckets start.
func (s Step) hours() []int {
	switch s {
	case StepHour:
		return []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}
	case StepSixHours:
		return []int{0, 6, 12, 18}
	}
	return []int{0}
}

// Periods are the summary's presets: their step and how many buckets.
var Periods = []struct {
	Name    string
	Step    Step
	Buckets int
}{
	{"24h", StepHour, 24},
	{"7d", StepSixHours, 28},
	{"30d", StepDay, 30},
	{"90d", StepDay, 90},
}

// MaxDays bounds a from/to window: its buckets are days, and a window of
// ten years is 3,650 of them.
const MaxDays = 3660

// Window is the time a summary covers, cut into buckets.
type Window struct {
	// Period names the preset, "" for a from/to window.
	Period string
	Step   Step
	Loc    *time.Location
	// Bounds are the buckets' edges: From, the zone's step boundaries
	// between, To. Bucket i is Bounds[i] <= time < Bounds[i+1].
	Bounds []time.Time
}

// From is the window's first instant.
func (w *Window) From() time.Time { return w.Bounds[0] }

// To is the end of the window (exclusive).
func (w *Window) To() time.Time { return w.Bounds[len(w.Bounds)-1] }

// boundaries are the step's local boundaries strictly between from and to.
func boundaries(from, to time.Time, step Step, loc *time.Location) []time.Time {
	var out []time.Time
	d := from.In(loc)
	day := time.Date(d.Year(), d.Month(), d.Day()-1, 0, 0, 0, 0, loc)
	for !day.After(to) {
		for _, h := range step.hours() {
			t := time.Date(day.Year(), day.Month(), day.Day(), h, 0, 0, 0, loc)
			if t.After(from) && t.Before(to) {
				out = append(out, t)
			}
		}
		day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}

// PeriodWindow is a preset's window ending with the bucket now is in: the
// last bucket is the one in progress.
func PeriodWindow(period string, now time.Time, loc *time.Location) (Window, error) {
	i := slices.IndexFunc(Periods, func(p struct {
		Name    string
		Step    Step
		Buckets int
	}) bool {
		return p.Name == period
	})
	if i < 0 {
		return Window{}, usage.Errorf(usage.EInvalid, "unknown period %q (want 24h, 7d, 30d or 90d)", period)
	}
	p := Periods[i]
	span := time.Duration(p.Buckets) * time.Duration(p.Step.Seconds()) * time.Second
	now = usage.TruncateMS(now)
	b := boundaries(now.Add(-span-72*time.Hour), now.Add(72*time.Hour), p.Step, loc)
	end := slices.IndexFunc(b, func(t time.Time) bool { return t.After(now) })
	if end < p.Buckets {
		return Window{}, fmt.Errorf("summary: no bucket boundaries around %s in %s", now, loc)
	}
	return Window{Period: p.Name, Step: p.Step, Loc: loc, Bounds: slices.Clone(b[end-p.Buckets : end+1])}, nil
}

// RangeWindow is the window from..to, in hours up to two days, six-hour
// blocks up to two weeks and days beyond.
func RangeWindow(from, to time.Time, loc *time.Location) (Window, error) {
	if !from.Before(to) {
		return Window{}, usage.Errorf(usage.EInvalid, "from must be before to")
	}
	span := to.Sub(from)
	if span > MaxDays*24*time.Hour {
		return Window{}, usage.Errorf(usage.EInvalid, "the range from %s to %s is longer than %d days: narrow it", from.Format(time.RFC3339), to.Format(time.RFC3339), MaxDays)
	}
	step := StepDay
	switch {
	case span <= 48*time.Hour:
		step = StepHour
	case span <= 14*24*time.Hour:
		step = StepSixHours
	}
	b := append([]time.Time{from}, boundaries(from, to, step, loc)...)
	return Window{Step: step, Loc: loc, Bounds: append(b, to)}, nil
}

// Request is a summary or facets request: the window and the log filters.
type Request struct {
	Window Window
	// Filter selects the calls; its From and To are the window's.
	Filter usage.LogFilter
	// TotalsOnly asks for the totals alone (an alert's measure: calls,
	// errors, p95 and the series): the summary leaves TopClients, MCP and
	// Other empty, and a store skips the dimensions' queries.
	TotalsOnly bool
	// NoTiming asks for no p95 (P95MS is 0): a store skips the timing
	// queries.
	NoTiming bool
}

// ParseRequest reads a summary request from the query parameters of the
// HTTP contract: period (24h, 7d, 30d, 90d) or from and to (to defaults to
// now), the log filters and tz; defaultTZ applies without tz. A period of
// 1h is refused: summaries come in whole hours.
func ParseRequest(q url.Values, now time.Time, defaultTZ *time.Location) (Request, error) {
	period := q.Get("period")
	if period != "" {
		if _, ok := usage.Periods[period]; ok && !slices.ContainsFunc(Periods, func(p struct {
			Name    string
			Step    Step
			Buckets int
		}) bool {
			return p.Name == period
		}) {
			return Request{}, usage.Errorf(usage.EInvalid, "unknown period %q (want 24h, 7d, 30d or 90d)", period)
		}
	} else if q.Get("from") == "" {
		return Request{}, usage.Errorf(usage.EInvalid, "a summary needs period (24h, 7d, 30d or 90d) or from")
	}
	f, err := usage.ParseLogFilter(q, now, defaultTZ)
	if err != nil {
		return Request{}, err
	}
	loc := f.Location()
	var w Window
	if period != "" {
		w, err = PeriodWindow(period, now, loc)
	} else {
		to := f.To
		if to.IsZero() {
			to = usage.TruncateMS(now)
		}
		w, err = RangeWindow(f.From, to, loc)
	}
	if err != nil {
		return Request{}, err
	}
	f.From, f.To = w.From(), w.To()
	return Request{Window: w, Filter: f}, nil
}
