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
	"slices"
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
func (r *Rollup) AddCalls(i int, status int, client, collection, community string, usageType usage.UsageType, n int64) {
	t := Tally{Calls: n}
	if status >= 400 {
		t.Errors = n
	}
	if i >= 0 {
		r.Buckets[i].add(t)
	}
	if usageType == usage.UsageMCP {
		r.MCP += n
	}
	r.AddStatus(status, t)
	r.AddDim(DimClient, client, t)
	r.AddDim(DimCollection, collection, t)
	r.AddDim(DimCommunity, community, t)
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

// Batch is the rollup cells of a batch of stored api_request events, for
// stores that write their rollups themselves (SQLite: in the transaction
// that stores the events). Every cell is added to what the store holds.
type Batch struct {
	// Series: per quarter hour, every call.
	Series map[int64]*SeriesCell
	// Dims: per hour and per day, the calls of each value of each
	// dimension.
	Dims map[DimKey]*Tally
	// Calls: per quarter hour, the calls of each combination of the
	// filterable dimensions.
	Calls map[CallKey]*CallCell
}

// SeriesCell is a quarter hour's calls.
type SeriesCell struct {
	Tally
	MCP    int64
	Timing Timings
}

// DimKey is one value of one dimension in one hour or day.
type DimKey struct {
	Grain, Bucket int64
	Dim           Dim
	Value         string
}

// CallKey is one combination of dimensions in one quarter hour.
type CallKey struct {
	Bucket                                        int64
	Status                                        int
	Client, Collection, CollectionType, Community string
	UsageType                                     usage.UsageType
}

// CallCell is the calls of one CallKey.
type CallCell struct {
	Calls  int64
	Timing Timings
}

// Timings are a cell's timing buckets, one per call: most cells of a
// batch hold a call or two, for which a Histogram would be large.
type Timings []int32

// Encode is the timings as an encoded Histogram.
func (ts Timings) Encode() []byte {
	s := slices.Clone(ts)
	slices.Sort(s)
	var out []byte
	prev := int32(0)
	for i := 0; i < len(s); {
		j := i + 1
		for j < len(s) && s[j] == s[i] {
			j++
		}
		out = appendPair(out, uint64(s[i]-prev), uint64(j-i))
		prev = s[i]
		i = j
	}
	return out
}

func appendPair(dst []byte, a, b uint64) []byte {
	for _, v := range [2]uint64{a, b} {
		for v >= 0x80 {
			dst = append(dst, byte(v)|0x80)
			v >>= 7
		}
		dst = append(dst, byte(v))
	}
	return dst
}

// NewBatch returns an empty batch.
func NewBatch() *Batch {
	return &Batch{Series: map[int64]*SeriesCell{}, Dims: map[DimKey]*Tally{}, Calls: map[CallKey]*CallCell{}}
}

// Len is how many events the batch holds.
func (b *Batch) Len() int {
	n := int64(0)
	for _, c := range b.Series {
		n += c.Calls
	}
	return int(n)
}

// Add rolls up one stored api_request.
func (b *Batch) Add(e *usage.Event) {
	t := e.Time.UnixMilli()
	q := Floor(t, QuarterMS)
	tb := int32(TimingBucket(e.TimingMS))
	one := Tally{Calls: 1}
	if e.Status >= 400 {
		one.Errors = 1
	}
	sc := b.Series[q]
	if sc == nil {
		sc = &SeriesCell{}
		b.Series[q] = sc
	}
	sc.add(one)
	if e.UsageType == usage.UsageMCP {
		sc.MCP++
	}
	sc.Timing = append(sc.Timing, tb)

	for _, g := range [2]int64{HourMS, DayMS} {
		bucket := Floor(t, g)
		for d, v := range [4]string{itoa(e.Status), e.Client, e.Collection, e.Community} {
			k := DimKey{Grain: g, Bucket: bucket, Dim: Dim(d), Value: v}
			c := b.Dims[k]
			if c == nil {
				c = &Tally{}
				b.Dims[k] = c
			}
			c.add(one)
		}
	}

	ck := CallKey{Bucket: q, Status: e.Status, Client: e.Client, Collection: e.Collection,
		CollectionType: e.CollectionType, Community: e.Community, UsageType: e.UsageType}
	cc := b.Calls[ck]
	if cc == nil {
		cc = &CallCell{}
		b.Calls[ck] = cc
	}
	cc.Calls++
	cc.Timing = append(cc.Timing, tb)
}

// itoa of a status: statuses repeat, so the few in use are not allocated
// again.
func itoa(n int) string {
	if n >= 0 && n < len(statusText) {
		return statusText[n]
	}
	return strconv.Itoa(n)
}

var statusText = func() []string {
	out := make([]string, 600)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}()

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
