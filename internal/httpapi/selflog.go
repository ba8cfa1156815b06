package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/usagelog/usagelog/capture"
	"github.com/usagelog/usagelog/internal/gateway"
	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/usage"
)

// SelfCollection is the API collection of usagelog's own traffic.
const SelfCollection = usage.SelfCollection

// Recorder records usagelog's own API calls as api_request events of their
// callers' workspaces, on capture.Recorder as any service does: one per
// workspace, started at its first call, delivering into the event store
// through ingest's rules (gateway.StoreSink). It never holds up a call:
// what does not fit in a workspace's buffer is dropped and counted; while
// the store is down, batches wait in a spool under SpoolDir.
type Recorder struct {
	cfg  RecorderConfig
	log  *slog.Logger
	mu   sync.Mutex
	recs map[int64]*capture.Recorder
	// closed stops new recorders; lost counts calls no recorder took.
	closed bool
	lost   atomic.Int64
	// unattributed bounds, per client address, the calls recorded that
	// no valid token attributes to a workspace; unattributedAll bounds
	// them per workspace whatever their addresses (many addresses, or an
	// IPv6 block, would pass the first bound each).
	unattributed    *lru.Cache[string, *rate.Limiter]
	unattributedAll map[int64]*rate.Limiter
}

// UnattributedPerMinute is how many calls without a valid token one
// address may have recorded a minute; the rest are counted as dropped.
const UnattributedPerMinute = 60

// RecorderConfig configures a Recorder.
type RecorderConfig struct {
	Events usage.EventStore
	// SpoolDir holds each workspace's spool (SpoolDir/WORKSPACE); required.
	SpoolDir string
	Logger   *slog.Logger
	// Registry, when set, gets the dropped-calls counter.
	Registry prometheus.Registerer
	// Policies, when set, apply each workspace's classification and
	// redaction rules to its recorded calls (the server's, so that a
	// change applies to both at once).
	Policies *ingest.Policies
	// Buffer is how many calls of one workspace may wait; default 1,024.
	Buffer int
	// FlushEvery bounds how long a call waits; default 250 ms.
	FlushEvery time.Duration
	// UnattributedCeiling is how many calls without a valid token a
	// workspace has recorded a minute from every address together;
	// default UnattributedCeilingPerMinute.
	UnattributedCeiling int
}

// UnattributedCeilingPerMinute is RecorderConfig.UnattributedCeiling's
// default: ten addresses at their full rate.
const UnattributedCeilingPerMinute = 10 * UnattributedPerMinute

// NewRecorder returns a recorder; Close delivers (or spools) what it holds
// and stops it.
func NewRecorder(cfg RecorderConfig) (*Recorder, error) {
	if cfg.Events == nil || cfg.SpoolDir == "" {
		return nil, errors.New("httpapi: self-logging needs an events store and a spool directory")
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 1024
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 250 * time.Millisecond
	}
	if cfg.UnattributedCeiling <= 0 {
		cfg.UnattributedCeiling = UnattributedCeilingPerMinute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	limits, err := lru.New[string, *rate.Limiter](10_000)
	if err != nil {
		return nil, fmt.Errorf("httpapi: self-logging: %w", err)
	}
	r := &Recorder{cfg: cfg, log: cfg.Logger, recs: map[int64]*capture.Recorder{}, unattributed: limits, unattributedAll: map[int64]*rate.Limiter{}}
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "usagelog_selflog_dropped_total",
			Help: "usagelog API calls not recorded: the recording buffer was full, or an address or every address together sent more calls without a valid token than are recorded a minute.",
		}, func() float64 { return float64(r.dropped()) }))
	}
	return r, nil
}

// Record queues a call of the workspace; it never blocks.
func (r *Recorder) Record(workspaceID int64, c capture.Call) {
	rec := r.recorder(workspaceID)
	if rec == nil {
		r.lost.Add(1)
		return
	}
	rec.Record(c)
}

// RecordUnattributed queues a call that no valid token attributes (it goes
// to the default workspace), at most UnattributedPerMinute a minute from
// one address and RecorderConfig.UnattributedCeiling from all; the rest
// are counted as dropped.
func (r *Recorder) RecordUnattributed(workspaceID int64, c capture.Call) {
	r.mu.Lock()
	lim, ok := r.unattributed.Get(c.IP)
	if !ok {
		lim = rate.NewLimiter(rate.Every(time.Minute/UnattributedPerMinute), UnattributedPerMinute)
		r.unattributed.Add(c.IP, lim)
	}
	all := r.unattributedAll[workspaceID]
	if all == nil {
		n := r.cfg.UnattributedCeiling
		all = rate.NewLimiter(rate.Every(time.Minute/time.Duration(n)), n)
		r.unattributedAll[workspaceID] = all
	}
	r.mu.Unlock()
	// An address over its own rate spends none of the ceiling.
	if !lim.AllowN(c.Time, 1) || !all.AllowN(c.Time, 1) {
		r.lost.Add(1)
		return
	}
	r.Record(workspaceID, c)
}

func (r *Recorder) recorder(workspaceID int64) *capture.Recorder {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec, ok := r.recs[workspaceID]; ok || r.closed {
		return rec
	}
	rec, err := capture.New(capture.Config{
		Sink:       gateway.StoreSink(r.cfg.Events, workspaceID, r.cfg.Policies),
		SpoolDir:   filepath.Join(r.cfg.SpoolDir, strconv.FormatInt(workspaceID, 10)),
		Buffer:     r.cfg.Buffer,
		BatchSize:  500,
		FlushEvery: r.cfg.FlushEvery,
		Logger:     r.log,
	})
	if err != nil {
		r.log.Error("self-logging: calls of this workspace are not recorded", "workspace", workspaceID, "err", err)
	}
	r.recs[workspaceID] = rec // nil after an error: its calls are counted as lost, not retried per call
	return rec
}

// dropped is the calls dropped by every workspace's recorder, and those
// none took.
func (r *Recorder) dropped() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.lost.Load()
	for _, rec := range r.recs {
		if rec != nil {
			n += rec.Stats().Dropped
		}
	}
	return n
}

// Close stops accepting calls and delivers, or spools, what is buffered.
func (r *Recorder) Close() {
	r.mu.Lock()
	r.closed = true
	recs := make([]*capture.Recorder, 0, len(r.recs))
	for _, rec := range r.recs {
		if rec != nil {
			recs = append(recs, rec)
		}
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, rec := range recs {
		if err := rec.Close(ctx); err != nil {
			r.log.Warn("self-logging: closing", "err", err)
		}
	}
}
