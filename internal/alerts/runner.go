package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Sender delivers a rule's message: Delivery.
type Sender interface {
	Send(ctx context.Context, e *Entry, m *Message) error
}

// Runner measures the rules that are due, steps them, keeps what it
// measured and sends the notices. Several replicas may run one each: a
// rule is claimed by one of them a period (Store.ClaimDueAlerts).
type Runner struct {
	Store     Store
	Summaries Summarizer
	Sender    Sender
	// Every is how often each rule is measured; default a minute.
	Every time.Duration
	// BaseURL is the console's address, for the logs link of messages.
	BaseURL string
	Log     *slog.Logger
	Now     func() time.Time

	wg sync.WaitGroup
}

// claimBatch bounds the rules claimed at once: one replica does not take
// every rule while the others wait.
const claimBatch = 200

func (r *Runner) every() time.Duration {
	if r.Every <= 0 {
		return time.Minute
	}
	return r.Every
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// RunDue measures every rule due now, and returns how many it measured.
func (r *Runner) RunDue(ctx context.Context) (int, error) {
	n := 0
	for {
		now := r.now()
		due, err := r.Store.ClaimDueAlerts(ctx, now, now.Add(r.every()), claimBatch)
		if err != nil {
			return n, err
		}
		for i := range due {
			if err := r.Evaluate(ctx, &due[i], now); err != nil {
				r.Log.Error("alert", "rule", due[i].ID, "err", err)
			}
		}
		n += len(due)
		if len(due) < claimBatch {
			return n, nil
		}
	}
}

// Evaluate measures e's rule at now, records the measurement and the
// state it leads to, and sends the notice it calls for (a failure to send
// is recorded on the rule).
func (r *Runner) Evaluate(ctx context.Context, e *Entry, now time.Time) error {
	msg, err := r.Measure(ctx, e, now)
	if err != nil {
		return err
	}
	prev := e.Status.State
	if err := r.Store.RecordAlert(ctx, e, prev, msg.Notice); err != nil {
		return err
	}
	if msg.Notice == NoNotice {
		return nil
	}
	failure := ""
	if err := r.Sender.Send(ctx, e, msg); err != nil {
		failure = err.Error()
		r.Log.Warn("alert notification", "rule", e.ID, "notice", msg.Notice, "err", err)
	}
	if failure != "" || e.NotifyError != "" {
		return r.Store.AlertNotifyError(ctx, e.ID, failure, now)
	}
	return nil
}

// Measure measures e's rule at now and steps e to the status it leads to;
// the message says what that calls for (Notice none: nothing to send). It
// records and sends nothing: usagelog alerts test prints it.
func (r *Runner) Measure(ctx context.Context, e *Entry, now time.Time) (*Message, error) {
	m, err := Measure(ctx, r.Summaries, &e.Rule, now)
	if err != nil {
		return nil, err
	}
	var notice Notice
	e.Status, notice = e.Step(e.Status, m)
	e.Last = m
	return &Message{Rule: &e.Rule, Notice: notice, Status: e.Status, M: m, Link: LogsLink(r.BaseURL, &e.Rule, m.At)}, nil
}

// Start runs RunDue every few seconds until ctx ends (rules are due
// every Every; the ticks only find them soon after).
func (r *Runner) Start(ctx context.Context) {
	tick := min(r.every()/4, 15*time.Second)
	tick = max(tick, 100*time.Millisecond)
	r.wg.Go(func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			if _, err := r.RunDue(ctx); err != nil && ctx.Err() == nil {
				r.Log.Error("alerts", "err", fmt.Errorf("run due: %w", err))
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

// Wait returns once Start's loop has ended.
func (r *Runner) Wait() { r.wg.Wait() }
