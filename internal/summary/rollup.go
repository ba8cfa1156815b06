// Package summary answers the console's numbers and pick-lists, and the
// summary API, from rollups that stores keep as events are stored, so that
// a summary of 90 days costs the same at ten million events as at ten
// thousand.
//
// Stores keep api_request events rolled up by quarter hour of UTC: every
// IANA zone in use today is offset from UTC by whole quarter hours
// (Asia/Kathmandu +05:45, India +05:30), so the local hours, six-hour
// blocks and days of any zone are made of whole quarter hours, and counts
// summed from them are exact. Parts of a window that are not whole quarter
// hours (an RFC 3339 from or to at 10:07) are read from the events.
package summary

import (
	"context"
	"sort"
	"strconv"

	"github.com/usagelog/usagelog/internal/usage"
)

// Grains of the rollups, in milliseconds.
const (
	QuarterMS = int64(900_000)
	HourMS    = int64(3_600_000)
	DayMS     = int64(86_400_000)
)

// Floor is t's grain bucket: the start of the grain that holds the instant
// t (Unix milliseconds), also before 1970.
func Floor(t, grain int64) int64 {
	b := t / grain * grain
	if b > t {
		b -= grain
	}
	return b
}

// Ceil is the first grain boundary at or after t.
func Ceil(t, grain int64) int64 {
	f := Floor(t, grain)
	if f == t {
		return t
	}
	return f + grain
}

// Dim is a dimension of the narrow rollup that pick-lists and top clients
// read.
type Dim int

// Dims of the narrow rollup, as stored.
const (
	DimStatus Dim = iota
	DimClient
	DimCollection
	DimCommunity
)

// Tally is calls and, of them, errors (status 400 or more).
type Tally struct{ Calls, Errors int64 }

func (t *Tally) add(o Tally) { t.Calls += o.Calls; t.Errors += o.Errors }

// Query asks a store for its rollups over buckets.
type Query struct {
	// Filter's statuses, clients, collections, collection type,
	// communities and usage type apply; its From and To do not.
	Filter usage.LogFilter
	// Bounds are the buckets' edges, quarter-hour aligned Unix
	// milliseconds in ascending order (equal neighbours make an empty
	// bucket): bucket i is Bounds[i] <= time < Bounds[i+1].
	Bounds []int64
	// DimsOnly asks only for the dimensions' calls (facets): a store may
	// leave the buckets, MCP calls and timings empty.
	DimsOnly bool
	// NoDims asks for the buckets and timings alone (an alert's
	// measure): a store may leave the dimensions empty, and with a
	// filter the MCP calls too.
	NoDims bool
	// NoTiming asks for no timings: a store may leave them empty.
	NoTiming bool
}

// Filtered reports whether the query selects by any dimension; stores
// answer an unfiltered query from narrower rollups.
func (q *Query) Filtered() bool {
	f := &q.Filter
	return len(f.Statuses) > 0 || len(f.StatusClasses) > 0 || len(f.Clients) > 0 || len(f.Collections) > 0 ||
		f.CollectionType != "" || len(f.Communities) > 0 || f.UsageType != ""
}

// Bucket is the index of the bucket holding t, -1 when none does.
func (q *Query) Bucket(t int64) int {
	i := sort.Search(len(q.Bounds), func(i int) bool { return q.Bounds[i] > t }) - 1
	if i < 0 || i >= len(q.Bounds)-1 {
		return -1
	}
	return i
}

// Rollup is what a store answers: the buckets' calls, and over all of them
// MCP calls, the timing histogram and the calls of each dimension's values.
type Rollup struct {
	Buckets     []Tally
	MCP         int64
	Timing      Histogram
	Statuses    map[int]Tally
	Clients     map[string]Tally
	Collections map[string]Tally
	Communities map[string]Tally
}

// NewRollup returns an empty rollup of n buckets.
func NewRollup(n int) *Rollup {
	return &Rollup{Buckets: make([]Tally, max(n, 0)), Statuses: map[int]Tally{}, Clients: map[string]Tally{},
		Collections: map[string]Tally{}, Communities: map[string]Tally{}}
}

// AddDim adds calls of one value of a dimension.
func (r *Rollup) AddDim(d Dim, value string, t Tally) {
	var m map[string]Tally
	switch d {
	case DimStatus:
		n, _ := strconv.Atoi(value)
		r.AddStatus(n, t)
		return
	case DimClient:
		m = r.Clients
	case DimCollection:
		m = r.Collections
	case DimCommunity:
		m = r.Communities
	default:
		return
	}
	v := m[value]
	v.add(t)
	m[value] = v
}

// AddStatus adds calls answered with status.
func (r *Rollup) AddStatus(status int, t Tally) {
	v := r.Statuses[status]
	v.add(t)
	r.Statuses[status] = v
}

// AddCalls adds n calls of one combination of dimensions in bucket i (-1:
// none, for the dimensions alone).
func (r *Rollup) AddCalls(i int, status int, client, collection, community string, usageType usage.Type, n int64) {
	t := Tally{Calls: n}
	if status >= 400 {
		t.Errors = n
	}
	if i >= 0 {
		r.Buckets[i].add(t)
	}
	if usageType == usage.TypeMCP {
		r.MCP += n
	}
	r.AddStatus(status, t)
	r.AddDim(DimClient, client, t)
	r.AddDim(DimCollection, collection, t)
	r.AddDim(DimCommunity, community, t)
}

// Merge adds o, a rollup of the same buckets, to r.
func (r *Rollup) Merge(o *Rollup) {
	for i := range min(len(r.Buckets), len(o.Buckets)) {
		r.Buckets[i].add(o.Buckets[i])
	}
	r.MCP += o.MCP
	for b, n := range o.Timing.counts {
		r.Timing.Add(b, n)
	}
	for st, t := range o.Statuses {
		r.AddStatus(st, t)
	}
	for d, m := range map[Dim]map[string]Tally{DimClient: o.Clients, DimCollection: o.Collections, DimCommunity: o.Communities} {
		for v, t := range m {
			r.AddDim(d, v, t)
		}
	}
}

// AddEvent counts one api_request in bucket i.
func (r *Rollup) AddEvent(i int, e *usage.Event) {
	r.AddCalls(i, e.Status, e.Client, e.Collection, e.Community, e.UsageType, 1)
	r.Timing.Add(TimingBucket(e.TimingMS), 1)
}

// Source is an event store that keeps rollups.
type Source interface {
	Rollup(ctx context.Context, workspaceID int64, q Query) (*Rollup, error)
}

// Piece is a span of whole grains: From <= time < To.
type Piece struct{ Grain, From, To int64 }

// Cover cuts the quarter-hour aligned span lo..hi into the fewest pieces of
// whole days, hours and quarter hours (UTC): quarter hours up to the first
// hour, hours up to the first day, days, and back down at the end. A store
// reads each piece from the rollup of its grain.
func Cover(lo, hi int64) []Piece {
	var out []Piece
	add := func(g, from, to int64) {
		if from < to {
			out = append(out, Piece{g, from, to})
		}
	}
	h0, h1 := Ceil(lo, HourMS), Floor(hi, HourMS)
	if h0 >= h1 {
		add(QuarterMS, lo, hi)
		return out
	}
	d0, d1 := Ceil(h0, DayMS), Floor(h1, DayMS)
	add(QuarterMS, lo, h0)
	if d0 >= d1 {
		add(HourMS, h0, h1)
	} else {
		add(HourMS, h0, d0)
		add(DayMS, d0, d1)
		add(HourMS, d1, h1)
	}
	add(QuarterMS, h1, hi)
	return out
}
