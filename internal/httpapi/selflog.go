package httpapi

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/usagelog/usagelog/internal/usage"
)

// SelfCollection is the API collection of usagelog's own traffic.
const SelfCollection = "usagelog API"

// Recorder stores usagelog's own API calls as api_request events without
// ever holding up a call: events go into a bounded buffer that a goroutine
// flushes in batches; when the buffer is full they are dropped and counted.
type Recorder struct {
	events  usage.EventStore
	log     *slog.Logger
	ch      chan recorded
	dropped prometheus.Counter
	done    chan struct{}
	once    sync.Once
}

type recorded struct {
	workspaceID int64
	event       usage.Event
}

// RecorderConfig configures a Recorder.
type RecorderConfig struct {
	Events usage.EventStore
	Logger *slog.Logger
	// Registry, when set, gets the dropped-events counter.
	Registry prometheus.Registerer
	// Buffer is how many events may wait; default 10,000.
	Buffer int
	// FlushEvery bounds how long an event waits; default 250 ms.
	FlushEvery time.Duration
}

// NewRecorder starts a recorder; Close flushes and stops it.
func NewRecorder(cfg RecorderConfig) *Recorder {
	if cfg.Buffer <= 0 {
		cfg.Buffer = 10_000
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 250 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{
		events: cfg.Events, log: cfg.Logger, ch: make(chan recorded, cfg.Buffer), done: make(chan struct{}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "usagelog_selflog_dropped_total",
			Help: "usagelog API calls not recorded because the recording buffer was full.",
		}),
	}
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(r.dropped)
	}
	go r.run(cfg.FlushEvery)
	return r
}

// Record queues an event; it never blocks.
func (r *Recorder) Record(workspaceID int64, e usage.Event) {
	select {
	case r.ch <- recorded{workspaceID, e}:
	default:
		r.dropped.Inc()
	}
}

// Close stops accepting events and flushes what is buffered.
func (r *Recorder) Close() {
	r.once.Do(func() {
		close(r.ch)
		<-r.done
	})
}

const recorderBatch = 500

func (r *Recorder) run(every time.Duration) {
	defer close(r.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	pending := make([]recorded, 0, recorderBatch)
	for {
		select {
		case rec, ok := <-r.ch:
			if !ok {
				r.flush(pending)
				return
			}
			pending = append(pending, rec)
			if len(pending) >= recorderBatch {
				r.flush(pending)
				pending = pending[:0]
			}
		case <-tick.C:
			r.flush(pending)
			pending = pending[:0]
		}
	}
}

func (r *Recorder) flush(pending []recorded) {
	if len(pending) == 0 {
		return
	}
	byWorkspace := map[int64][]usage.Event{}
	for _, p := range pending {
		byWorkspace[p.workspaceID] = append(byWorkspace[p.workspaceID], p.event)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ws, events := range byWorkspace {
		if _, err := r.events.Append(ctx, ws, events); err != nil {
			r.dropped.Add(float64(len(events)))
			r.log.Warn("self-logging: events lost", "workspace", ws, "events", len(events), "err", err)
		}
	}
}
