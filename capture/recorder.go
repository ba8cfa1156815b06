package capture

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sink delivers a batch of events. An error means the batch may be sent
// again later (the sink is down or busy), unless it wraps ErrRejected.
// Events carry ids, so a batch sent twice is stored once.
type Sink interface {
	Send(ctx context.Context, events []Event) error
}

// ErrRejected marks a batch the sink will never take (invalid events): it is
// dropped and counted, not retried.
var ErrRejected = errors.New("rejected")

// Config configures a Recorder.
type Config struct {
	Sink Sink
	// SpoolDir holds batches while the sink is down; required.
	SpoolDir string
	// SpoolMaxBytes bounds the spool; default 256 MiB.
	SpoolMaxBytes int64
	// Buffer is how many calls may wait in memory; default 4,096. The
	// buffer is scanned by every garbage collection, so bigger costs the
	// service latency (BenchmarkGatewayLoad).
	Buffer int
	// BatchSize is the most events a delivery carries; default 1,000.
	BatchSize int
	// FlushEvery bounds how long a call waits in memory; default 200 ms.
	FlushEvery time.Duration
	// Timeout bounds one delivery; default 10 s.
	Timeout time.Duration
	// RetryMin and RetryMax bound the wait between attempts to deliver the
	// spool while the sink is down; defaults 250 ms and 30 s.
	RetryMin, RetryMax time.Duration
	Logger             *slog.Logger
	// Registerer, when set, gets the recorder's metrics.
	Registerer prometheus.Registerer
}

// Stats counts what a recorder did with the calls it was given.
type Stats struct {
	Delivered int64 // stored by the sink (duplicates of a re-send included)
	Spooled   int   // waiting on disk now
	Dropped   int64 // lost: buffer or spool full, or refused by the sink
}

// yieldEvery is how many events the recorder's goroutines turn into
// stored rows before they let the service's own goroutines run: a batch of
// 1,000 handled in one go holds a processor for over 10 ms, which shows in
// the service's tail latency (BenchmarkGatewayLoad).
const yieldEvery = 100

// Recorder delivers calls to a sink in the background. Record never blocks.
type Recorder struct {
	cfg    Config
	log    *slog.Logger
	spool  *spool
	ch     chan Call
	prefix string
	seq    uint64

	closing  chan struct{}
	flushed  chan struct{} // closed when flushLoop has handed on its last batch
	closed   atomic.Bool
	wake     chan struct{} // tells the spool drainer to try now
	wg       sync.WaitGroup
	lastDrop atomic.Int64 // unix seconds of the last drop log line

	delivered atomic.Int64
	dropped   atomic.Int64

	mDelivered prometheus.Counter
	mDropped   *prometheus.CounterVec
	mSpooled   prometheus.GaugeFunc
}

// New opens the spool (delivering what an earlier run left there) and
// starts the recorder. Close stops it.
func New(cfg Config) (*Recorder, error) {
	if cfg.Sink == nil {
		return nil, errors.New("capture: a sink is required")
	}
	if cfg.SpoolDir == "" {
		return nil, errors.New("capture: a spool directory is required")
	}
	if cfg.SpoolMaxBytes <= 0 {
		cfg.SpoolMaxBytes = 256 << 20
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 4096
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 200 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = 250 * time.Millisecond
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(30*time.Second, cfg.RetryMin)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	sp, err := openSpool(cfg.SpoolDir, cfg.SpoolMaxBytes)
	if err != nil {
		return nil, err
	}
	var id [4]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	r := &Recorder{
		cfg: cfg, log: cfg.Logger, spool: sp,
		ch:      make(chan Call, cfg.Buffer),
		prefix:  "cap-" + hex.EncodeToString(id[:]) + "-" + strconv.FormatInt(time.Now().UnixMilli(), 36) + "-",
		closing: make(chan struct{}),
		flushed: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		mDelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "usagelog_capture_delivered_total", Help: "Recorded API calls delivered to the store or server.",
		}),
		mDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "usagelog_capture_dropped_total", Help: "Recorded API calls lost, by reason: buffer (memory buffer full), spool (disk spool full or failing), rejected (refused by the server).",
		}, []string{"reason"}),
	}
	r.mSpooled = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "usagelog_capture_spooled_events", Help: "Recorded API calls waiting in the on-disk spool.",
	}, func() float64 { return float64(r.spool.waiting()) })
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{r.mDelivered, r.mDropped, r.mSpooled} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("capture: metrics: %w", err)
			}
		}
	}
	if n := sp.waiting(); n > 0 {
		r.log.Info("capture: delivering calls spooled by an earlier run", "events", n, "dir", cfg.SpoolDir)
	}
	r.wg.Add(2)
	go r.flushLoop()
	go r.drainLoop()
	return r, nil
}

// Record queues a call. It never blocks: when the buffer is full the call
// is dropped and counted.
func (r *Recorder) Record(c Call) {
	if r.closed.Load() {
		r.drop("buffer", 1)
		return
	}
	select {
	case r.ch <- c:
	default:
		r.drop("buffer", 1)
	}
}

// Stats returns the recorder's counts so far.
func (r *Recorder) Stats() Stats {
	return Stats{Delivered: r.delivered.Load(), Spooled: r.spool.waiting(), Dropped: r.dropped.Load()}
}

// drop counts n lost calls and says so at most once a minute.
func (r *Recorder) drop(reason string, n int) {
	r.dropped.Add(int64(n))
	r.mDropped.WithLabelValues(reason).Add(float64(n))
	now := time.Now().Unix()
	last := r.lastDrop.Load()
	if now-last >= 60 && r.lastDrop.CompareAndSwap(last, now) {
		r.log.Warn("capture: dropping recorded calls", "reason", reason, "dropped_total", r.dropped.Load())
	}
}

// Close stops taking calls and delivers what is buffered and spooled; what
// the sink does not take stays in the spool and goes out at the next start.
// It returns when that is done or ctx ends.
func (r *Recorder) Close(ctx context.Context) error {
	if r.closed.Swap(true) {
		return nil
	}
	close(r.closing)
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("capture: close: %w", ctx.Err())
	}
}

// flushLoop batches calls from the buffer and hands each batch on.
func (r *Recorder) flushLoop() {
	background()
	defer r.wg.Done()
	defer close(r.flushed)
	tick := time.NewTicker(r.cfg.FlushEvery)
	defer tick.Stop()
	calls := make([]Call, 0, r.cfg.BatchSize)
	events := make([]Event, 0, r.cfg.BatchSize)
	id := []byte(r.prefix)
	flush := func() {
		if len(calls) == 0 {
			return
		}
		events = events[:0]
		for i := range calls {
			if i > 0 && i%yieldEvery == 0 {
				runtime.Gosched()
			}
			r.seq++
			id = strconv.AppendUint(id[:len(r.prefix)], r.seq, 36)
			events = append(events, calls[i].event(string(id)))
		}
		calls = calls[:0]
		r.deliver(events)
	}
	take := func(c Call) {
		calls = append(calls, c)
		if len(calls) == r.cfg.BatchSize {
			flush()
		}
	}
	for {
		select {
		case c := <-r.ch:
			take(c)
		case <-tick.C:
			flush()
		case <-r.closing:
			for len(r.ch) > 0 { // Record no longer sends: what is here is all
				take(<-r.ch)
			}
			flush()
			return
		}
	}
}

// deliver sends a batch now when nothing older waits, and spools it
// otherwise or when the send fails.
func (r *Recorder) deliver(events []Event) {
	if r.spool.empty() {
		err := r.send(events)
		if err == nil || errors.Is(err, ErrRejected) {
			return
		}
		r.log.Warn("capture: sink unavailable; spooling", "events", len(events), "err", err)
	}
	if err := r.spool.put(events); err != nil {
		r.drop("spool", len(events))
		if !errors.Is(err, errSpoolFull) {
			r.log.Error("capture: spool", "err", err)
		}
		return
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// send makes one delivery attempt and counts its outcome.
func (r *Recorder) send(events []Event) error {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
	defer cancel()
	err := r.cfg.Sink.Send(ctx, events)
	switch {
	case err == nil:
		r.delivered.Add(int64(len(events)))
		r.mDelivered.Add(float64(len(events)))
	case errors.Is(err, ErrRejected):
		r.log.Error("capture: sink refused a batch; dropping it", "events", len(events), "err", err)
		r.drop("rejected", len(events))
	}
	return err
}

// drainLoop delivers spooled batches, oldest first, backing off while the
// sink stays down. On Close it makes a last attempt once the final batch is
// flushed, so that a sink that is up gets everything before the process ends.
func (r *Recorder) drainLoop() {
	background()
	defer r.wg.Done()
	wait := r.cfg.RetryMin
	timer := time.NewTimer(0)
	defer timer.Stop()
	backingOff := false
	for {
		select {
		case <-r.closing:
			<-r.flushed
			_ = r.drainAll()
			return
		case <-r.wake:
			if backingOff {
				continue // a new batch was spooled: the sink is still down
			}
		case <-timer.C:
			backingOff = false
		}
		if err := r.drainAll(); err != nil {
			backingOff = true
			timer.Reset(wait)
			wait = min(wait*2, r.cfg.RetryMax)
			continue
		}
		wait = r.cfg.RetryMin
	}
}

// drainAll delivers spooled batches until none is left or one fails.
func (r *Recorder) drainAll() error {
	for {
		seg, events, bad, ok, err := r.spool.oldest()
		if !ok {
			return nil
		}
		if bad > 0 {
			r.log.Error("capture: spool file had unreadable lines; skipping them", "file", r.spool.path(seg.seq), "lines", bad)
			r.drop("spool", bad)
		}
		if err == nil && len(events) > 0 {
			err = r.send(events)
			if errors.Is(err, ErrRejected) {
				err = nil
			}
		}
		if err != nil {
			return err
		}
		r.spool.remove(seg)
	}
}
