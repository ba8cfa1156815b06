package summary

import (
	"math"
	"slices"
)

// Timing buckets: every millisecond up to linearMax has a bucket of its own;
// above it, buckets grow by growth each, so a bucket's middle is within 1%
// of any timing in it and a percentile read from the histogram is within
// 2% of the exact one (the contract of p95_ms).
const (
	linearMax = 128
	growth    = 1.02
)

var logGrowth = math.Log(growth)

// TimingBucket is the bucket of a timing in milliseconds. ClickHouse's
// rollups compute the same in SQL (TimingBucketSQL).
func TimingBucket(ms int64) int {
	if ms <= linearMax {
		return int(max(ms, 0))
	}
	return linearMax + 1 + int(math.Floor(math.Log(float64(ms)/linearMax)/logGrowth))
}

// TimingBucketSQL is TimingBucket as a SQL expression of column col, in
// functions both ClickHouse 18.16 and current releases have.
func TimingBucketSQL(col string) string {
	return "if(" + col + " <= 128, greatest(" + col + ", 0), toInt64(129 + floor(log(" + col + " / 128) / log(1.02))))"
}

// BucketValue is the timing a bucket stands for: the millisecond itself up
// to linearMax, else the geometric middle of the bucket.
func BucketValue(b int) int64 {
	if b <= linearMax {
		return int64(b)
	}
	lo := linearMax * math.Pow(growth, float64(b-linearMax-1))
	return int64(math.Round(lo * math.Sqrt(growth)))
}

// Histogram counts timings by bucket. The zero value is empty.
type Histogram struct {
	counts []int64 // by bucket
	total  int64
}

// Add counts n timings of bucket b.
func (h *Histogram) Add(b int, n int64) {
	if b < 0 || n == 0 {
		return
	}
	if b >= len(h.counts) {
		h.counts = slices.Grow(h.counts, b+1-len(h.counts))[:b+1]
	}
	h.counts[b] += n
	h.total += n
}

// Quantile is the timing of nearest rank q (0 < q ≤ 1), 0 when empty.
func (h *Histogram) Quantile(q float64) int64 {
	if h.total == 0 {
		return 0
	}
	rank := int64(math.Ceil(float64(h.total) * q))
	rank = min(max(rank, 1), h.total)
	var seen int64
	for b, n := range h.counts {
		seen += n
		if seen >= rank {
			return BucketValue(b)
		}
	}
	return BucketValue(len(h.counts) - 1)
}

// ExactQuantile is the nearest-rank quantile of timings, the reference the
// histogram is held to. It sorts timings.
func ExactQuantile(timings []int64, q float64) int64 {
	if len(timings) == 0 {
		return 0
	}
	slices.Sort(timings)
	rank := int(math.Ceil(float64(len(timings)) * q))
	return timings[min(max(rank, 1), len(timings))-1]
}
