// Package reclassify classifies a workspace's stored API calls again when
// its classification rules change, so that the logs, the exports and the
// summaries of its history follow the rules in force, not those of the
// day each call was stored. A change is recorded in the metadata store
// (usage.MetaStore.RequestReclassification); a Runner takes it up in the
// background, reports its progress there, and takes up a run that another
// process began and stopped reporting.
package reclassify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/usage"
)

// Events classifies stored calls again (usage.EventStore's Reclassify).
type Events interface {
	Reclassify(ctx context.Context, workspaceID int64, rules usage.Classifier, resumed bool, progress func(done, total int64)) (int64, error)
}

// Meta is what a Runner reads and records of the metadata store.
type Meta interface {
	Classification(ctx context.Context, workspaceID int64) ([]usage.Rule, bool, error)
	ClaimReclassification(ctx context.Context, now, settledBefore, staleBefore time.Time) (c usage.ReclassClaim, ok bool, err error)
	ReclassificationProgress(ctx context.Context, workspaceID, done, total int64, at time.Time) error
	FinishReclassification(ctx context.Context, workspaceID, changed int64, failure string, at time.Time) error
}

// Defaults of Config.
const (
	// DefaultSettle outlasts the time ingest keeps a workspace's rules
	// (ingest.DefaultRulesTTL) on every replica.
	DefaultSettle    = ingest.DefaultRulesTTL + 5*time.Second
	DefaultEvery     = 30 * time.Second
	DefaultHeartbeat = 10 * time.Second
	DefaultStale     = 2 * time.Minute
)

// Config configures a Runner.
type Config struct {
	Events Events
	Meta   Meta
	Log    *slog.Logger
	// Every is how often the Runner looks for due runs besides when woken
	// (DefaultEvery).
	Every time.Duration
	// Settle is how long after a change of the rules its run begins
	// (DefaultSettle): by then every replica stores calls by the new
	// rules, so that none stored by the old ones lands in a day the run
	// has done.
	Settle time.Duration
	// Heartbeat is how often a run records its progress (DefaultHeartbeat);
	// Stale is how long a run may go without, before another process
	// takes it up (DefaultStale, several heartbeats).
	Heartbeat, Stale time.Duration
	Now              func() time.Time
}

// Runner runs due reclassifications, one at a time.
type Runner struct {
	cfg  Config
	wake chan struct{}
}

// New returns a Runner.
func New(cfg Config) (*Runner, error) {
	if cfg.Events == nil || cfg.Meta == nil {
		return nil, fmt.Errorf("reclassify: events and meta stores are required")
	}
	if cfg.Every <= 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.Settle <= 0 {
		cfg.Settle = DefaultSettle
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Stale <= 0 {
		cfg.Stale = DefaultStale
	}
	if cfg.Stale <= cfg.Heartbeat {
		return nil, fmt.Errorf("reclassify: stale after %s is not longer than the heartbeat %s", cfg.Stale, cfg.Heartbeat)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Runner{cfg: cfg, wake: make(chan struct{}, 1)}, nil
}

// Wake makes the loop look for due runs now (the rules just changed).
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Loop runs due reclassifications until ctx ends.
func (r *Runner) Loop(ctx context.Context) {
	for {
		if _, err := r.RunDue(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Log.Error("reclassify", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
			// The change just made is due once it settled.
			select {
			case <-ctx.Done():
				return
			case <-time.After(r.cfg.Settle):
			}
		case <-time.After(r.cfg.Every):
		}
	}
}

// RunDue runs every due reclassification, one after another, and returns
// how many it ran. A run that fails is recorded as failed, and the next
// one is taken up.
func (r *Runner) RunDue(ctx context.Context) (int, error) {
	n := 0
	for {
		now := r.cfg.Now()
		c, ok, err := r.cfg.Meta.ClaimReclassification(ctx, now, now.Add(-r.cfg.Settle), now.Add(-r.cfg.Stale))
		if err != nil || !ok {
			return n, err
		}
		n++
		if err := r.run(ctx, c); err != nil {
			return n, err
		}
	}
}

// run classifies a workspace's calls by its rules in force, recording
// progress at every heartbeat; it returns an error only when it could not
// record the outcome.
func (r *Runner) run(ctx context.Context, c usage.ReclassClaim) error {
	ws := c.WorkspaceID
	start := time.Now()
	var (
		mu          sync.Mutex
		done, total int64
	)
	beat := func() error {
		mu.Lock()
		d, t := done, total
		mu.Unlock()
		return r.cfg.Meta.ReclassificationProgress(ctx, ws, d, t, r.cfg.Now())
	}
	runCtx, stop := context.WithCancel(ctx)
	beats := make(chan struct{})
	go func() {
		defer close(beats)
		for {
			select {
			case <-runCtx.Done():
				return
			case <-time.After(r.cfg.Heartbeat):
				if err := beat(); err != nil && runCtx.Err() == nil {
					r.cfg.Log.Warn("reclassify: recording progress", "workspace", ws, "err", err)
				}
			}
		}
	}()
	changed, err := r.classify(runCtx, c, func(d, t int64) {
		mu.Lock()
		done, total = d, t
		mu.Unlock()
	})
	stop()
	<-beats
	if ctx.Err() != nil {
		// Stopped with the process: a run after the next start takes it
		// up again once it is stale.
		return ctx.Err()
	}
	failure := ""
	if err != nil {
		failure = err.Error()
		r.cfg.Log.Error("reclassify: run failed", "workspace", ws, "resumed", c.Resumed, "err", err)
	} else {
		r.cfg.Log.Info("reclassify: stored calls follow the rules", "workspace", ws, "changed", changed, "took", time.Since(start).Round(time.Millisecond))
	}
	if err := beat(); err != nil {
		return err
	}
	return r.cfg.Meta.FinishReclassification(ctx, ws, changed, failure, r.cfg.Now())
}

func (r *Runner) classify(ctx context.Context, c usage.ReclassClaim, progress func(done, total int64)) (int64, error) {
	rules, set, err := r.cfg.Meta.Classification(ctx, c.WorkspaceID)
	if err != nil {
		return 0, err
	}
	if !set {
		rules = usage.DefaultRules
	}
	return r.cfg.Events.Reclassify(ctx, c.WorkspaceID, usage.Classifier(rules), c.Resumed, progress)
}
