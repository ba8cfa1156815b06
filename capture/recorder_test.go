package capture

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// memSink is a sink that can be taken down: while down, Send fails as an
// unreachable server would.
type memSink struct {
	mu      sync.Mutex
	down    bool
	reject  bool
	batches [][]Event
	byID    map[string]Event
	sends   int
}

func newMemSink() *memSink { return &memSink{byID: map[string]Event{}} }

func (s *memSink) Send(ctx context.Context, events []Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sends++
	if s.down {
		return errors.New("connection refused")
	}
	if s.reject {
		return fmt.Errorf("%w: bad batch", ErrRejected)
	}
	s.batches = append(s.batches, append([]Event(nil), events...))
	for _, e := range events {
		s.byID[e.ID] = e
	}
	return nil
}

func (s *memSink) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

func (s *memSink) stored() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

func newRecorder(t *testing.T, sink Sink, dir string, tweak func(*Config)) *Recorder {
	t.Helper()
	cfg := Config{Sink: sink, SpoolDir: dir, FlushEvery: 10 * time.Millisecond, RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond}
	if tweak != nil {
		tweak(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func call(i int) Call {
	return Call{Time: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond), Method: "GET", URL: fmt.Sprintf("/orders/%d", i), Endpoint: "/orders/{id}", Status: 200, Collection: "Orders", CollectionType: "proxy", Client: "app", IP: "192.0.2.1", TimingMS: 3}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRecorderDeliversInBatches(t *testing.T) {
	sink := newMemSink()
	r := newRecorder(t, sink, t.TempDir(), func(c *Config) { c.BatchSize = 100 })
	for i := range 2500 {
		r.Record(call(i))
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sink.stored(); got != 2500 {
		t.Fatalf("stored %d distinct events, want 2500", got)
	}
	for _, b := range sink.batches {
		if len(b) > 100 {
			t.Fatalf("a batch of %d events, over the batch size", len(b))
		}
	}
	e := sink.batches[0][0]
	if e.URL != "/orders/0" || e.Endpoint != "/orders/{id}" || e.Status != 200 || e.Client != "app" || e.TimingMS != 3 {
		t.Errorf("first event = %+v", e)
	}
	if s := r.Stats(); s.Delivered != 2500 || s.Dropped != 0 || s.Spooled != 0 {
		t.Errorf("stats = %+v", s)
	}
	// Record after Close is counted, not a panic.
	r.Record(call(1))
	if r.Stats().Dropped != 1 {
		t.Error("a call recorded after Close was not counted as dropped")
	}
}

func TestRecorderSpoolsWhileDownAndDeliversWhenBack(t *testing.T) {
	sink := newMemSink()
	sink.setDown(true)
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	r := newRecorder(t, sink, dir, func(c *Config) { c.BatchSize = 250; c.Registerer = reg })
	for i := range 3000 {
		r.Record(call(i))
	}
	eventually(t, "3000 spooled", func() bool { return r.Stats().Spooled == 3000 })
	if v := testutil.ToFloat64(r.mSpooled); v != 3000 {
		t.Errorf("spooled gauge = %v", v)
	}
	sink.setDown(false)
	eventually(t, "all delivered", func() bool { return sink.stored() == 3000 })
	eventually(t, "spool emptied", func() bool { return r.Stats().Spooled == 0 })
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("spool holds %d files after delivery", len(files))
	}
	if s := r.Stats(); s.Dropped != 0 {
		t.Errorf("dropped %d", s.Dropped)
	}
	// Order is kept: batches come back oldest first.
	first := sink.batches[0][0]
	if first.URL != "/orders/0" {
		t.Errorf("first delivered = %s, want /orders/0", first.URL)
	}
}

func TestRecorderRestartDeliversWhatWasSpooled(t *testing.T) {
	dir := t.TempDir()
	down := newMemSink()
	down.setDown(true)
	r := newRecorder(t, down, dir, nil)
	for i := range 1234 {
		r.Record(call(i))
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := r.Stats(); s.Spooled != 1234 || s.Delivered != 0 {
		t.Fatalf("after close while down: %+v", s)
	}
	// A write cut short by a crash is cleaned up, not delivered.
	if err := os.WriteFile(dir+"/00000000000000000099.ndjson.tmp", []byte(`{"kind":`), 0o600); err != nil {
		t.Fatal(err)
	}
	up := newMemSink()
	r2 := newRecorder(t, up, dir, nil)
	eventually(t, "spool delivered after restart", func() bool { return up.stored() == 1234 })
	if err := r2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("spool holds %d files", len(files))
	}
}

func TestRecorderDropsWhenSpoolIsFull(t *testing.T) {
	sink := newMemSink()
	sink.setDown(true)
	reg := prometheus.NewRegistry()
	r := newRecorder(t, sink, t.TempDir(), func(c *Config) { c.SpoolMaxBytes = 20_000; c.BatchSize = 10; c.Registerer = reg })
	for i := range 500 {
		r.Record(call(i))
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := r.Stats()
	if s.Dropped == 0 || s.Spooled == 0 || int64(s.Spooled)+s.Dropped != 500 {
		t.Fatalf("stats = %+v; want some spooled, the rest dropped, 500 in all", s)
	}
	if v := testutil.ToFloat64(r.mDropped.WithLabelValues("spool")); int64(v) != s.Dropped {
		t.Errorf("dropped metric = %v, want %d", v, s.Dropped)
	}
}

func TestRecorderDropsRejectedBatches(t *testing.T) {
	sink := newMemSink()
	sink.reject = true
	r := newRecorder(t, sink, t.TempDir(), nil)
	for i := range 10 {
		r.Record(call(i))
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := r.Stats(); s.Dropped != 10 || s.Spooled != 0 {
		t.Errorf("stats = %+v; a refused batch is dropped, not spooled", s)
	}
}

// blockingSink holds every Send until released, as a hung server would.
type blockingSink struct{ release chan struct{} }

func (s blockingSink) Send(ctx context.Context, _ []Event) error {
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestRecordNeverBlocks(t *testing.T) {
	sink := blockingSink{release: make(chan struct{})}
	r := newRecorder(t, sink, t.TempDir(), func(c *Config) { c.Buffer = 10; c.BatchSize = 5 })
	done := make(chan struct{})
	go func() {
		for i := range 1000 {
			r.Record(call(i))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Record blocked while the sink hung")
	}
	if r.Stats().Dropped == 0 {
		t.Error("no call was counted as dropped with a full buffer")
	}
	close(sink.release)
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCallEventClipsHostileFields(t *testing.T) {
	long := make([]byte, 9000)
	for i := range long {
		long[i] = 'a'
	}
	long[8190] = 0xE2 // a three-byte rune split by the limit
	long[8191] = 0x82
	long[8192] = 0xAC
	c := Call{Time: time.Now(), Method: "GET", URL: string(long), UserAgent: "bad \xff byte", Status: 0, CollectionType: "weird"}
	e := c.event("x")
	if len(e.URL) != 8190 {
		t.Errorf("url cut to %d bytes, want 8190 (before the split rune)", len(e.URL))
	}
	if e.UserAgent != "bad \uFFFD byte" {
		t.Errorf("user agent = %q", e.UserAgent)
	}
	if e.Status != 200 || e.CollectionType != "" {
		t.Errorf("status %d, collection type %q", e.Status, e.CollectionType)
	}
}

type discardSink struct{}

func (discardSink) Send(context.Context, []Event) error { return nil }
