package summary

import (
	"bytes"
	"math"
	"math/rand/v2"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

func TestHistogramWithinTwoPercent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		n := 1 + rng.IntN(5000)
		timings := make([]int64, n)
		var h Histogram
		for i := range timings {
			timings[i] = int64(math.Exp(rng.NormFloat64()*2 + float64(round%8)))
			h.Add(TimingBucket(timings[i]), 1)
		}
		for _, q := range []float64{0.5, 0.95, 0.99} {
			got, exact := h.Quantile(q), ExactQuantile(slices.Clone(timings), q)
			if d := math.Abs(float64(got - exact)); d > 0.02*float64(exact) {
				t.Fatalf("round %d: q%.2f = %d, exact %d", round, q, got, exact)
			}
		}
	}
}

func TestTimingBucketBounds(t *testing.T) {
	for ms := int64(-3); ms < 200_000; ms++ {
		b := TimingBucket(ms)
		if ms <= 128 && b != int(max(ms, 0)) {
			t.Fatalf("%d ms: bucket %d", ms, b)
		}
		if v := BucketValue(b); ms > 0 && math.Abs(float64(v-ms)) > 0.011*float64(ms)+0.5 {
			t.Fatalf("%d ms: bucket %d stands for %d", ms, b, v)
		}
	}
}

func TestCover(t *testing.T) {
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	for _, c := range []struct {
		lo, hi int64
		want   []Piece
	}{
		{day + QuarterMS, day + 2*QuarterMS, []Piece{{QuarterMS, day + QuarterMS, day + 2*QuarterMS}}},
		{day - QuarterMS, day + 2*DayMS + HourMS + QuarterMS, []Piece{
			{QuarterMS, day - QuarterMS, day}, {DayMS, day, day + 2*DayMS}, {HourMS, day + 2*DayMS, day + 2*DayMS + HourMS},
			{QuarterMS, day + 2*DayMS + HourMS, day + 2*DayMS + HourMS + QuarterMS}}},
		{day + 3*QuarterMS, day + 5*HourMS, []Piece{{QuarterMS, day + 3*QuarterMS, day + HourMS}, {HourMS, day + HourMS, day + 5*HourMS}}},
	} {
		if got := Cover(c.lo, c.hi); !slices.Equal(got, c.want) {
			t.Errorf("Cover(%d, %d) = %v, want %v", c.lo-day, c.hi-day, got, c.want)
		}
	}
}

func TestPeriodWindows(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	ktm, _ := time.LoadLocation("Asia/Kathmandu")
	// The day New York springs forward: 23 hours.
	now := time.Date(2026, 3, 8, 15, 20, 0, 0, ny)
	w, err := PeriodWindow("24h", now, ny)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Bounds) != 25 || !w.To().Equal(time.Date(2026, 3, 8, 16, 0, 0, 0, ny)) || w.To().Sub(w.From()) != 24*time.Hour {
		t.Errorf("24h: %v … %v (%d bounds)", w.From(), w.To(), len(w.Bounds))
	}
	w, _ = PeriodWindow("30d", now, ny)
	if len(w.Bounds) != 31 || !w.From().Equal(time.Date(2026, 2, 7, 0, 0, 0, 0, ny)) {
		t.Errorf("30d: from %v, %d bounds", w.From(), len(w.Bounds))
	}
	for i := 1; i < len(w.Bounds); i++ {
		if h := w.Bounds[i].In(ny).Hour(); h != 0 {
			t.Errorf("30d: a day starts at %v", w.Bounds[i].In(ny))
		}
	}
	w, _ = PeriodWindow("7d", time.Date(2026, 11, 3, 14, 37, 0, 0, time.UTC), ktm)
	if len(w.Bounds) != 29 || w.From().In(ktm).Hour() != 0 || w.From().UTC().Minute() != 15 {
		t.Errorf("7d in Kathmandu: from %v, %d bounds", w.From().In(ktm), len(w.Bounds))
	}
	if _, err := PeriodWindow("1h", now, ny); err == nil {
		t.Error("1h: no error")
	}
}

func TestMergeCells(t *testing.T) {
	a := AppendCells(nil, SortCells([]Cell{{1, 200, 5, 2}, {1, 200, 5, 1}, {3, 404, 9, 1}}))
	b := AppendCells(nil, SortCells([]Cell{{1, 200, 5, 4}, {2, 500, 1, 1}}))
	got := cellsOf(t, MergeCells(a, b))
	want := []Cell{{1, 200, 5, 7}, {2, 500, 1, 1}, {3, 404, 9, 1}}
	if !slices.Equal(got, want) {
		t.Errorf("merge = %v, want %v", got, want)
	}
	if got := cellsOf(t, MergeCells(a, []byte{0x80})); !slices.Equal(got, cellsOf(t, a)) {
		t.Errorf("a malformed side is not empty: %v", got)
	}
	// An erasure's negative counts (two's complement) take calls out, and
	// a cell that comes to nothing goes.
	minus := func(n uint64) uint64 { return -n }
	out := AppendCells(nil, []Cell{{1, 200, 5, minus(3)}, {3, 404, 9, minus(1)}})
	if got := cellsOf(t, MergeCells(a, out)); len(got) != 0 {
		t.Errorf("taking every call out = %v, want no cell", got)
	}
	out = AppendCells(nil, []Cell{{1, 200, 5, minus(1)}})
	if got, want := cellsOf(t, MergeCells(a, out)), []Cell{{1, 200, 5, 2}, {3, 404, 9, 1}}; !slices.Equal(got, want) {
		t.Errorf("taking one call out = %v, want %v", got, want)
	}
}

func cellsOf(t testing.TB, p []byte) []Cell {
	var out []Cell
	r := NewCellReader(p)
	var c Cell
	for r.Next(&c) {
		out = append(out, c)
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	return out
}

// FuzzMergeCells holds MergeCells to adding the cells up in a map, and
// feeds it arbitrary bytes, which must never panic.
func FuzzMergeCells(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 0, 2, 3, 1}, []byte{1, 2, 3, 9})
	f.Add([]byte{0x80}, []byte{})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		merged := MergeCells(a, b)
		sum := map[Cell]uint64{}
		okA, okB := decodes(a), decodes(b)
		for _, side := range []struct {
			p  []byte
			ok bool
		}{{a, okA}, {b, okB}} {
			if !side.ok {
				continue
			}
			r := NewCellReader(side.p)
			var c Cell
			for r.Next(&c) {
				n := c.Calls
				c.Calls = 0
				sum[c] += n
			}
		}
		r := NewCellReader(merged)
		var c Cell
		got := map[Cell]uint64{}
		for r.Next(&c) {
			n := c.Calls
			c.Calls = 0
			got[c] += n
		}
		if r.Err() != nil {
			t.Fatalf("merged encoding does not decode: %v", r.Err())
		}
		// Sorted inputs merge exactly; unsorted ones still lose no calls.
		var want, have uint64
		for _, n := range sum {
			want += n
		}
		for _, n := range got {
			have += n
		}
		if want != have {
			t.Fatalf("calls: merged %d, inputs %d", have, want)
		}
	})
}

func TestQuarters(t *testing.T) {
	a := [4][]Cell{{{1, 200, 5, 2}}, nil, {{2, 404, 9, 1}, {3, 200, 1, 1}}, nil}
	b := [4][]Cell{{{1, 200, 5, 1}, {1, 500, 2, 1}}, {{4, 200, 0, 3}}, nil, nil}
	merged := MergeQuarters(AppendQuarters(nil, &a), AppendQuarters(nil, &b))
	got, err := SplitQuarters(merged)
	if err != nil {
		t.Fatal(err)
	}
	want := [4][]Cell{{{1, 200, 5, 3}, {1, 500, 2, 1}}, {{4, 200, 0, 3}}, {{2, 404, 9, 1}, {3, 200, 1, 1}}, nil}
	for i := range want {
		if c := cellsOf(t, got[i]); !slices.Equal(c, want[i]) {
			t.Errorf("quarter %d = %v, want %v", i, c, want[i])
		}
	}
	if got := MergeQuarters(AppendQuarters(nil, &a), []byte{9, 1}); !bytes.Equal(got, AppendQuarters(nil, &a)) {
		t.Errorf("a malformed side is not empty: %v", got)
	}
	h := EncodeHour(&want)
	if c := cellsOf(t, h.Counts); !slices.Equal(c, []Cell{{1, 200, 0, 3}, {1, 500, 0, 1}, {2, 404, 0, 1}, {3, 200, 0, 1}, {4, 200, 0, 3}}) {
		t.Errorf("counts = %v", c)
	}
	if c := cellsOf(t, h.Timings); !slices.Equal(c, []Cell{{0, 0, 0, 3}, {0, 0, 1, 1}, {0, 0, 2, 1}, {0, 0, 5, 3}, {0, 0, 9, 1}}) {
		t.Errorf("timings = %v", c)
	}
}

// FuzzMergeQuarters feeds MergeQuarters arbitrary bytes: it never panics,
// and what it returns always splits into four quarters.
func FuzzMergeQuarters(f *testing.F) {
	f.Add([]byte{4, 1, 2, 3, 4, 0, 0, 0}, []byte{0, 4, 1, 2, 3, 9})
	f.Add([]byte{0x80}, []byte{})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if _, err := SplitQuarters(MergeQuarters(a, b)); err != nil {
			t.Fatalf("merged encoding does not split: %v", err)
		}
	})
}

func decodes(p []byte) bool {
	r := NewCellReader(p)
	var c Cell
	for r.Next(&c) {
	}
	return r.Err() == nil
}

// FuzzParseRequest feeds the summary's query parser arbitrary parameters:
// it either refuses them or returns a window whose bounds ascend.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{"period=7d&tz=Asia/Kathmandu", "from=2026-01-01&to=2026-02-01", "from=2026-10-30T10:07:13Z", "period=1h", "period=90d&client=x&status_class=4xx"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 3, 14, 37, 21, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		req, err := ParseRequest(q, now, time.UTC)
		if err != nil {
			return
		}
		b := req.Window.Bounds
		if len(b) < 2 {
			t.Fatalf("%q: %d bounds", raw, len(b))
		}
		for i := 1; i < len(b); i++ {
			if !b[i].After(b[i-1]) {
				t.Fatalf("%q: bounds %v then %v", raw, b[i-1], b[i])
			}
		}
	})
}

// Merging two rollups counts what one rollup of both halves' events does.
func TestRollupMerge(t *testing.T) {
	events := []usage.Event{
		{Kind: usage.KindAPIRequest, Status: 200, Client: "a", Collection: "x", Community: "c", UsageType: usage.TypeMCP, TimingMS: 12},
		{Kind: usage.KindAPIRequest, Status: 500, Client: "b", Collection: "x", Community: "d", TimingMS: 3000},
		{Kind: usage.KindAPIRequest, Status: 404, Client: "a", Collection: "y", Community: "c", TimingMS: 7},
		{Kind: usage.KindAPIRequest, Status: 200, Client: "c", Collection: "y", Community: "d", UsageType: usage.TypeMCP, TimingMS: 250},
	}
	whole, left, right := NewRollup(2), NewRollup(2), NewRollup(2)
	for i := range events {
		whole.AddEvent(i%2, &events[i])
		if i < 2 {
			left.AddEvent(i%2, &events[i])
		} else {
			right.AddEvent(i%2, &events[i])
		}
	}
	left.Merge(right)
	if !reflect.DeepEqual(left, whole) {
		t.Errorf("merged %+v\nwant %+v", left, whole)
	}
}
