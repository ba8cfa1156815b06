package summary

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// Service answers summaries and facets from a store's rollups, and reads
// from the events only the parts of a window that are not whole quarter
// hours.
type Service struct {
	Rollups Source
	Events  Scanner
}

// Scanner streams a window's calls: the ScanLogs of usage.LogScanner,
// all a summary reads of the events.
type Scanner interface {
	ScanLogs(ctx context.Context, workspaceID int64, f usage.LogFilter, fields ...string) iter.Seq2[*usage.Event, error]
}

// TopClients is how many clients a summary lists.
const TopClients = 10

// Summary is the answer of GET /api/v1/summary.
type Summary struct {
	Window     Window
	Total      int64
	Errors     int64
	P95MS      int64
	MCP, Other int64
	Series     []Point
	TopClients []ClientCalls
}

// Point is one bucket of the series.
type Point struct {
	Start           time.Time
	Success, Failed int64
}

// ClientCalls is a client's calls and errors.
type ClientCalls struct {
	Client string `json:"client"`
	Calls  int64  `json:"calls"`
	Errors int64  `json:"errors"`
}

// ErrorRate is the share of calls answered with 400 or more, 0 to 1.
func (s *Summary) ErrorRate() float64 {
	if s.Total == 0 {
		return 0
	}
	return float64(s.Errors) / float64(s.Total)
}

const jsonTime = "2006-01-02T15:04:05.000Z07:00"

// Answer is a summary as the HTTP contract gives it, times in the
// window's zone.
type Answer struct {
	From          string        `json:"from"`
	To            string        `json:"to"`
	TZ            string        `json:"tz"`
	Period        string        `json:"period,omitempty"`
	BucketSeconds int64         `json:"bucket_seconds"`
	Total         int64         `json:"total"`
	Errors        int64         `json:"errors"`
	ErrorRate     float64       `json:"error_rate"`
	P95MS         int64         `json:"p95_ms"`
	MCP           int64         `json:"mcp"`
	Other         int64         `json:"other"`
	Series        []SeriesPoint `json:"series"`
	TopClients    []ClientCalls `json:"top_clients"`
}

// SeriesPoint is one bucket of the series as the answer gives it.
type SeriesPoint struct {
	Start   string `json:"start"`
	Success int64  `json:"success"`
	Failed  int64  `json:"failed"`
}

// Answer is s as the HTTP contract gives it.
func (s *Summary) Answer() Answer {
	series := make([]SeriesPoint, len(s.Series))
	for i, p := range s.Series {
		series[i] = SeriesPoint{p.Start.In(s.Window.Loc).Format(jsonTime), p.Success, p.Failed}
	}
	top := s.TopClients
	if top == nil {
		top = []ClientCalls{}
	}
	return Answer{
		s.Window.From().In(s.Window.Loc).Format(jsonTime), s.Window.To().In(s.Window.Loc).Format(jsonTime),
		s.Window.Loc.String(), s.Window.Period, int64(s.Window.Step.Seconds()), s.Total, s.Errors, s.ErrorRate(), s.P95MS,
		s.MCP, s.Other, series, top,
	}
}

// MarshalJSON writes s's Answer.
func (s *Summary) MarshalJSON() ([]byte, error) { return json.Marshal(s.Answer()) }

// Facets is the answer of GET /api/v1/logs/facets: what the log filters
// can pick, most calls first.
type Facets struct {
	Statuses    []StatusCalls `json:"statuses"`
	Clients     []ValueCalls  `json:"clients"`
	Collections []ValueCalls  `json:"collections"`
	Communities []ValueCalls  `json:"communities"`
}

// StatusCalls is a status's calls.
type StatusCalls struct {
	Status int    `json:"status"`
	Text   string `json:"text"`
	Calls  int64  `json:"calls"`
}

// ValueCalls is a dimension value's calls.
type ValueCalls struct {
	Value string `json:"value"`
	Calls int64  `json:"calls"`
}

// Summary sums the window's calls.
func (s *Service) Summary(ctx context.Context, workspaceID int64, req Request) (*Summary, error) {
	r, err := s.collect(ctx, workspaceID, req, false)
	if err != nil {
		return nil, err
	}
	sum := build(req.Window, r)
	if req.TotalsOnly {
		// What the store may have left out, and the ends' events filled
		// in part, is nothing rather than a part.
		sum.TopClients, sum.MCP, sum.Other = nil, 0, 0
	}
	if req.NoTiming {
		sum.P95MS = 0
	}
	return sum, nil
}

// Facets lists the values of the window's calls.
func (s *Service) Facets(ctx context.Context, workspaceID int64, req Request) (*Facets, error) {
	r, err := s.collect(ctx, workspaceID, req, true)
	if err != nil {
		return nil, err
	}
	return facets(r), nil
}

// collect is the window's rollup, as PlanFilter plans it: whole quarter
// hours from the store, the rest from the events.
func (s *Service) collect(ctx context.Context, workspaceID int64, req Request, dimsOnly bool) (*Rollup, error) {
	w := req.Window
	n := len(w.Bounds)
	plan := PlanFilter(req.Filter, w.From().UnixMilli(), w.To().UnixMilli())
	n1 := n - 1
	var q *Query
	if sp := plan.Rolled; sp != nil {
		q = &Query{Filter: sp.Filter, Bounds: make([]int64, n), DimsOnly: dimsOnly,
			NoDims: req.TotalsOnly && !dimsOnly, NoTiming: req.NoTiming}
		q.Bounds[0], q.Bounds[n-1] = sp.Lo, sp.Hi
		for i := 1; i < n-1; i++ {
			// A boundary off the quarter-hour grid (a zone's local mean
			// time before it took a modern offset) moves to the grid.
			q.Bounds[i] = min(max(Floor(w.Bounds[i].UnixMilli(), QuarterMS), sp.Lo), sp.Hi)
		}
	}
	bounds := Query{Bounds: make([]int64, n)}
	for i, b := range w.Bounds {
		bounds.Bounds[i] = b.UnixMilli()
	}
	// The events at the ends are read while the store sums its rollups:
	// both wait mostly on the store, and a summary is the longer of the
	// two rather than their sum.
	scanned := NewRollup(n1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		for _, f := range plan.Scans {
			for ev, err := range s.Events.ScanLogs(ctx, workspaceID, f, "time", "status", "client", "collection", "community", "usage_type", "timing_ms") {
				if err != nil {
					done <- fmt.Errorf("summary: %w", err)
					return
				}
				scanned.AddEvent(bounds.Bucket(ev.Time.UnixMilli()), ev)
			}
		}
		done <- nil
	}()
	r := NewRollup(n1)
	var err error
	if q != nil {
		if r, err = s.Rollups.Rollup(ctx, workspaceID, *q); err != nil {
			err = fmt.Errorf("summary: %w", err)
		} else if len(r.Buckets) != n1 {
			err = fmt.Errorf("summary: store answered %d buckets for %d", len(r.Buckets), n1)
		}
	}
	if err != nil {
		cancel()
	}
	if scanErr := <-done; err == nil {
		err = scanErr
	}
	if err != nil {
		return nil, err
	}
	r.Merge(scanned)
	return r, nil
}

// build turns a window's rollup into its summary.
func build(w Window, r *Rollup) *Summary {
	s := &Summary{Window: w, MCP: r.MCP, P95MS: r.Timing.Quantile(0.95)}
	for i, b := range r.Buckets {
		s.Total += b.Calls
		s.Errors += b.Errors
		s.Series = append(s.Series, Point{Start: w.Bounds[i], Success: b.Calls - b.Errors, Failed: b.Errors})
	}
	s.Other = s.Total - s.MCP
	clients := slices.Collect(maps.Keys(r.Clients))
	slices.SortFunc(clients, func(a, b string) int {
		return cmp.Or(cmp.Compare(r.Clients[b].Calls, r.Clients[a].Calls), cmp.Compare(a, b))
	})
	for _, c := range clients[:min(len(clients), TopClients)] {
		s.TopClients = append(s.TopClients, ClientCalls{Client: c, Calls: r.Clients[c].Calls, Errors: r.Clients[c].Errors})
	}
	return s
}

func facets(r *Rollup) *Facets {
	f := &Facets{Statuses: []StatusCalls{}}
	for st, t := range r.Statuses {
		f.Statuses = append(f.Statuses, StatusCalls{Status: st, Text: http.StatusText(st), Calls: t.Calls})
	}
	slices.SortFunc(f.Statuses, func(a, b StatusCalls) int {
		return cmp.Or(cmp.Compare(b.Calls, a.Calls), cmp.Compare(a.Status, b.Status))
	})
	f.Clients, f.Collections, f.Communities = values(r.Clients), values(r.Collections), values(r.Communities)
	return f
}

// values are a dimension's values but the empty one, most calls first.
func values(m map[string]Tally) []ValueCalls {
	out := []ValueCalls{}
	for v, t := range m {
		if v != "" && t.Calls > 0 {
			out = append(out, ValueCalls{Value: v, Calls: t.Calls})
		}
	}
	slices.SortFunc(out, func(a, b ValueCalls) int { return cmp.Or(cmp.Compare(b.Calls, a.Calls), cmp.Compare(a.Value, b.Value)) })
	return out
}

// Reference computes a summary and facets from the events themselves, with
// the exact p95: what the conformance suite holds stores' rollups to.
func Reference(events []usage.Event, req Request) (*Summary, *Facets, []int64) {
	w := req.Window
	r := NewRollup(len(w.Bounds) - 1)
	q := Query{Bounds: make([]int64, len(w.Bounds))}
	for i, b := range w.Bounds {
		q.Bounds[i] = b.UnixMilli()
	}
	var timings []int64
	for i := range events {
		e := &events[i]
		if !req.Filter.Match(e) {
			continue
		}
		r.AddEvent(q.Bucket(e.Time.UnixMilli()), e)
		timings = append(timings, e.TimingMS)
	}
	s := build(w, r)
	s.P95MS = ExactQuantile(timings, 0.95)
	return s, facets(r), timings
}

// ParseFacetsRequest reads a facets request: the log filters with a
// period (any of the logs', 1h included) or from and to; the window is
// not cut into buckets.
func ParseFacetsRequest(q url.Values, now time.Time, defaultTZ *time.Location) (Request, error) {
	if q.Get("period") == "" && q.Get("from") == "" {
		return Request{}, usage.Errorf(usage.EInvalid, "facets need period (1h, 24h, 7d, 30d or 90d) or from")
	}
	f, err := usage.ParseLogFilter(q, now, defaultTZ)
	if err != nil {
		return Request{}, err
	}
	if f.To.IsZero() {
		f.To = usage.TruncateMS(now)
	}
	if !f.From.Before(f.To) {
		return Request{}, usage.Errorf(usage.EInvalid, "from must be before to")
	}
	w := Window{Step: StepDay, Loc: f.Location(), Bounds: []time.Time{f.From, f.To}}
	return Request{Window: w, Filter: f}, nil
}
