package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/usagelog/usagelog/internal/usage"
)

// group names a set of endpoints that share a rate limit.
type group string

const (
	groupIngest  group = "ingest"
	groupReads   group = "reads"
	groupExports group = "exports"
	groupAdmin   group = "admin"
)

// RateLimits are requests per minute per key, by endpoint group; zero
// takes the default.
type RateLimits struct {
	Ingest  int
	Reads   int
	Exports int
}

// DefaultRateLimits suit an interactive user and a script.
var DefaultRateLimits = RateLimits{Ingest: 1200, Reads: 600, Exports: 10}

func (l RateLimits) perMinute(g group) int {
	pick := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	switch g {
	case groupIngest:
		return pick(l.Ingest, DefaultRateLimits.Ingest)
	case groupExports:
		return pick(l.Exports, DefaultRateLimits.Exports)
	}
	return pick(l.Reads, DefaultRateLimits.Reads)
}

// limiter holds a token bucket per key and group: a full minute's worth of
// requests may come at once, refilled evenly over the minute.
type limiter struct {
	limits RateLimits
	mu     sync.Mutex
	bucket map[string]*rate.Limiter
}

func newLimiter(l RateLimits) *limiter {
	return &limiter{limits: l, bucket: map[string]*rate.Limiter{}}
}

// allow takes a token for key in group, writing the rate-limit headers; it
// returns the refusal when none is left.
func (l *limiter) allow(w http.ResponseWriter, keyID string, g group, now time.Time) error {
	perMinute := l.limits.perMinute(g)
	l.mu.Lock()
	b, ok := l.bucket[keyID+"/"+string(g)]
	if !ok {
		b = rate.NewLimiter(rate.Limit(float64(perMinute)/60), perMinute)
		l.bucket[keyID+"/"+string(g)] = b
	}
	l.mu.Unlock()
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(perMinute))
	r := b.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(delay.Seconds()))))
		return usage.Refusal(usage.GatewayRateLimited, "")
	}
	h.Set("X-RateLimit-Remaining", strconv.Itoa(int(math.Max(0, math.Floor(b.TokensAt(now))))))
	return nil
}
