package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
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
	// Every rule of the pass is measured at one instant, so that rules of
	// one workspace that watch the same calls over the same window share
	// one summary.
	now := r.now()
	var pass Summarizer = r.Summaries
	if p, ok := pass.(passer); ok {
		pass = p.Pass()
	}
	sums := &memo{s: pass, sums: map[string]*memoized{}, timing: map[string]bool{}}
	for {
		due, err := r.Store.ClaimDueAlerts(ctx, now, now.Add(r.every()), claimBatch)
		if err != nil {
			return n, err
		}
		measured, err := r.round(ctx, sums, due, now)
		n += measured
		if err != nil {
			return n, err
		}
		if len(due) < claimBatch {
			return n, nil
		}
	}
}

// round measures the rules of due at now from sums, records them in one
// transaction, and then sends their notices; it returns how many it
// measured (a rule that could not be is logged and waits for the next
// pass).
func (r *Runner) round(ctx context.Context, sums *memo, due []Entry, now time.Time) (int, error) {
	// Rules that share a summary but not a metric: one summary, with
	// the timings if any of them is a p95.
	for i := range due {
		if req, err := request(&due[i].Rule, usage.TruncateMS(now)); err == nil {
			sums.want(due[i].WorkspaceID, req)
		}
	}
	// Measured on as many goroutines as there are cores: a store answers
	// summaries side by side (SQLite's readers, ClickHouse's queries).
	msgs := make([]*Message, len(due))
	prev := make([]State, len(due))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(runtime.GOMAXPROCS(0), len(due))) {
		wg.Go(func() {
			for i := range next {
				e := &due[i]
				prev[i] = e.Status.State
				msg, err := measure(ctx, sums, r.BaseURL, e, now)
				if err != nil {
					r.Log.Error("alert", "rule", e.ID, "err", err)
					continue
				}
				msgs[i] = msg
			}
		})
	}
	for i := range due {
		next <- i
	}
	close(next)
	wg.Wait()
	// The rules that could not be measured keep their state and wait for
	// the next pass.
	records := make([]Record, 0, len(due))
	measured := make([]*Message, 0, len(due))
	for i, msg := range msgs {
		if msg != nil {
			records = append(records, Record{Entry: &due[i], Prev: prev[i], Notice: msg.Notice})
			measured = append(measured, msg)
		}
	}
	if err := r.Store.RecordAlerts(ctx, records); err != nil {
		return 0, err
	}
	for i, rec := range records {
		if rec.Notice == NoNotice {
			continue
		}
		failure := ""
		if err := r.Sender.Send(ctx, rec.Entry, measured[i]); err != nil {
			failure = err.Error()
			r.Log.Warn("alert notification", "rule", rec.Entry.ID, "notice", rec.Notice, "err", err)
		}
		if failure != "" || rec.Entry.NotifyError != "" {
			if err := r.Store.AlertNotifyError(ctx, rec.Entry.ID, failure, now); err != nil {
				return len(records), err
			}
		}
	}
	return len(records), nil
}

// Measure measures e's rule at now and steps e to the status it leads to;
// the message says what that calls for (Notice none: nothing to send). It
// records and sends nothing: usagelog alerts test prints it.
func (r *Runner) Measure(ctx context.Context, e *Entry, now time.Time) (*Message, error) {
	return measure(ctx, r.Summaries, r.BaseURL, e, now)
}

func measure(ctx context.Context, sums Summarizer, baseURL string, e *Entry, now time.Time) (*Message, error) {
	m, err := Measure(ctx, sums, &e.Rule, now)
	if err != nil {
		return nil, err
	}
	var notice Notice
	e.Status, notice = e.Step(e.Status, m)
	if notice == NoNotice && e.NotifyError != "" {
		// The latest notice reached no one (its tries within a pass
		// failed): tell where the rule stands now, a pass later.
		notice = Resolved
		if e.Status.State == Firing {
			notice, e.Status.Notified = Repeated, m.At
		}
	}
	e.Last = m
	return &Message{Rule: &e.Rule, Notice: notice, Status: e.Status, M: m, Link: LogsLink(baseURL, &e.Rule, m.At)}, nil
}

// passer is a Summarizer that answers a pass's summaries together:
// summary.Service, whose Pass reads the events at the windows' ends (the
// same few spans for every rule of a workspace) once.
type passer interface {
	Pass() *summary.Service
}

// memo answers each summary request once, however many rules of a pass
// ask for it at once: a pass measures every rule at one instant.
type memo struct {
	s    Summarizer
	mu   sync.Mutex
	sums map[string]*memoized
	// timing: the summaries that a rule of the pass wants the timings
	// of (want), by key.
	timing map[string]bool
}

type memoized struct {
	once sync.Once
	sum  *summary.Summary
	err  error
}

// key is req's in the memo: every field of the filter, whatever fields it
// gains; its window is the request's. Not NoTiming: a summary with the
// timings answers a request without.
func (m *memo) key(workspaceID int64, req summary.Request) string {
	f := req.Filter
	f.From, f.To, f.TZ = time.Time{}, time.Time{}, nil
	return fmt.Sprintf("%d|%d|%d|%q|%t|%#v", workspaceID, req.Window.From().UnixMilli(), req.Window.To().UnixMilli(), req.Window.Loc.String(), req.TotalsOnly, f)
}

// want notes a request the pass will make, before it makes any.
func (m *memo) want(workspaceID int64, req summary.Request) {
	k := m.key(workspaceID, req)
	m.mu.Lock()
	m.timing[k] = m.timing[k] || !req.NoTiming
	m.mu.Unlock()
}

func (m *memo) Summary(ctx context.Context, workspaceID int64, req summary.Request) (*summary.Summary, error) {
	key := m.key(workspaceID, req)
	m.mu.Lock()
	if m.timing[key] {
		req.NoTiming = false
	}
	key += fmt.Sprintf("|%t", req.NoTiming)
	e, ok := m.sums[key]
	if !ok {
		e = &memoized{}
		m.sums[key] = e
	}
	m.mu.Unlock()
	e.once.Do(func() { e.sum, e.err = m.s.Summary(ctx, workspaceID, req) })
	return e.sum, e.err
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
