package alerts

import (
	"context"
	"fmt"
	"time"

	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// Summarizer answers summaries: summary.Service, which reads the rollups
// and, for the minutes at a window's ends, the events.
type Summarizer interface {
	Summary(ctx context.Context, workspaceID int64, req summary.Request) (*summary.Summary, error)
}

// Measurement is a rule's metric over its window ending at At.
type Measurement struct {
	At    time.Time
	Value float64
	Calls int64 // the calls of the window that the filters select
	// NoData: fewer calls than the rule's min_calls (or none, for the
	// error rate and p95), so the value says nothing. Counts (calls,
	// status, silence) are never without data: zero is a count.
	NoData bool
}

// Measure computes r's metric over the window that ends at now.
func Measure(ctx context.Context, s Summarizer, r *Rule, now time.Time) (Measurement, error) {
	now = usage.TruncateMS(now)
	req, err := request(r, now)
	if err != nil {
		return Measurement{}, err
	}
	sum, err := s.Summary(ctx, r.WorkspaceID, req)
	if err != nil {
		return Measurement{}, fmt.Errorf("alert %s: summary: %w", r.ID, err)
	}
	m := Measurement{At: now, Calls: sum.Total}
	switch r.Metric {
	case MetricCalls, MetricStatus, MetricSilence:
		m.Value = float64(sum.Total)
	case MetricErrors:
		m.Value = float64(sum.Errors)
	case MetricErrorRate:
		m.Value = sum.ErrorRate()
	case MetricP95MS:
		m.Value = float64(sum.P95MS)
	}
	switch r.Metric {
	case MetricErrorRate, MetricP95MS:
		m.NoData = sum.Total == 0 || sum.Total < r.MinCalls
	case MetricErrors:
		m.NoData = sum.Total < r.MinCalls
	}
	return m, nil
}

// request is the summary that r's metric is read from at now: its totals
// alone, and no timings unless the metric is the p95.
func request(r *Rule, now time.Time) (summary.Request, error) {
	f, err := usage.ParseLogFilter(r.Filters, now, time.UTC)
	if err != nil {
		return summary.Request{}, fmt.Errorf("alert %s: filters: %w", r.ID, err)
	}
	from := now.Add(-r.Window)
	w, err := summary.RangeWindow(from, now, time.UTC)
	if err != nil {
		return summary.Request{}, fmt.Errorf("alert %s: window: %w", r.ID, err)
	}
	f.From, f.To = from, now
	return summary.Request{Window: w, Filter: f, TotalsOnly: true, NoTiming: r.Metric != MetricP95MS}, nil
}

// Breached reports whether m crosses r's threshold: for silence, whether
// the window had no call at all.
func (r *Rule) Breached(m Measurement) bool {
	if r.Metric == MetricSilence {
		return m.Calls == 0
	}
	switch r.Op {
	case ">":
		return m.Value > r.Threshold
	case ">=":
		return m.Value >= r.Threshold
	case "<":
		return m.Value < r.Threshold
	case "<=":
		return m.Value <= r.Threshold
	}
	return false
}

// State is where a rule stands.
type State string

// The states of a rule.
const (
	OK     State = "ok"
	Firing State = "firing"
	NoData State = "no_data"
)

// Status is a rule's state as last measured.
type Status struct {
	State State
	Since time.Time // when it entered State
	// Notified is when it last notified while firing: a renotify is due
	// Renotify after it.
	Notified time.Time
}

// Notice is what a step calls for telling.
type Notice string

// The notices: none, the rule starts firing, it is still firing a
// renotify interval later, it stopped firing.
const (
	NoNotice Notice = ""
	Fired    Notice = "firing"
	Repeated Notice = "still_firing"
	Resolved Notice = "resolved"
)

// Step is r's next status after measuring m, and the notice it calls for.
// A rule that goes from firing to no data resolves: nothing is wrong that
// can be seen.
func (r *Rule) Step(prev Status, m Measurement) (Status, Notice) {
	next := State(OK)
	switch {
	case m.NoData:
		next = NoData
	case r.Breached(m):
		next = Firing
	}
	st := prev
	if next != prev.State {
		st = Status{State: next, Since: m.At, Notified: prev.Notified}
	}
	switch {
	case next == Firing && prev.State != Firing:
		st.Notified = m.At
		return st, Fired
	case next == Firing && r.Renotify > 0 && !m.At.Before(prev.Notified.Add(r.Renotify)):
		st.Notified = m.At
		return st, Repeated
	case next != Firing && prev.State == Firing:
		return st, Resolved
	}
	return st, NoNotice
}
