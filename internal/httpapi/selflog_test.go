package httpapi_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/usagelog/usagelog/capture"
	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// stalledStore is a real SQLite store whose Append waits until released,
// as a store does when its disk stalls.
type stalledStore struct {
	*sqlite.Store
	release chan struct{}
}

func (s *stalledStore) Append(ctx context.Context, ws int64, ev []usage.Event) (usage.AppendResult, error) {
	<-s.release
	return s.Store.Append(ctx, ws, ev)
}

func TestRecorderNeverBlocksAndCountsDrops(t *testing.T) {
	st := sqlitetest.Open(t)
	stalled := &stalledStore{Store: st, release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	rec, err := httpapi.NewRecorder(httpapi.RecorderConfig{Events: stalled, SpoolDir: t.TempDir(), Registry: reg, Buffer: 10, FlushEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	events := storetest.Fixture(1000)
	start := time.Now()
	for _, e := range events {
		rec.Record(1, capture.Call{Time: e.Time, Method: e.Method, URL: e.URL, Endpoint: e.Endpoint, Status: e.Status,
			Collection: httpapi.SelfCollection, Client: e.Client, IP: e.IP, UserAgent: e.UserAgent, TimingMS: e.TimingMS})
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("recording 1000 events with a stalled store took %s", d)
	}
	close(stalled.release)
	rec.Close()
	n, _ := st.Count(context.Background(), 1, usage.KindAPIRequest)
	if n == 0 || n >= 1000 {
		t.Fatalf("stored %d of 1000; want some kept and some dropped", n)
	}
	expected := strings.NewReader("# HELP usagelog_selflog_dropped_total usagelog API calls not recorded: the recording buffer was full, or an address or every address together sent more calls without a valid token than are recorded a minute.\n# TYPE usagelog_selflog_dropped_total counter\nusagelog_selflog_dropped_total " + strconv.FormatInt(1000-n, 10) + "\n")
	if err := testutil.GatherAndCompare(reg, expected, "usagelog_selflog_dropped_total"); err != nil {
		t.Errorf("dropped counter: %v", err)
	}
}

// TestUnattributedCeiling: calls without a valid token from many
// addresses, each under its own rate, are recorded up to the workspace's
// ceiling a minute; the rest are counted as dropped, and the ceiling
// refills with time.
func TestUnattributedCeiling(t *testing.T) {
	st := sqlitetest.Open(t)
	reg := prometheus.NewRegistry()
	rec, err := httpapi.NewRecorder(httpapi.RecorderConfig{Events: st, SpoolDir: t.TempDir(), Registry: reg, FlushEvery: time.Millisecond, UnattributedCeiling: 100})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	call := func(ip string, t time.Time) capture.Call {
		return capture.Call{Time: t, Method: "GET", URL: "/api/v1/logs", Endpoint: "GET /api/v1/logs", Status: 401, Collection: httpapi.SelfCollection, IP: ip}
	}
	for a := range 50 {
		for range 5 {
			rec.RecordUnattributed(1, call(fmt.Sprintf("2001:db8::%x", a), at))
		}
	}
	// A minute later the ceiling has refilled.
	for a := range 20 {
		rec.RecordUnattributed(1, call(fmt.Sprintf("198.51.100.%d", a), at.Add(time.Minute)))
	}
	rec.Close()
	if n, _ := st.Count(context.Background(), 1, usage.KindAPIRequest); n != 120 {
		t.Errorf("recorded %d, want the ceiling of 100 and the 20 a minute later", n)
	}
	expected := strings.NewReader("# HELP usagelog_selflog_dropped_total usagelog API calls not recorded: the recording buffer was full, or an address or every address together sent more calls without a valid token than are recorded a minute.\n# TYPE usagelog_selflog_dropped_total counter\nusagelog_selflog_dropped_total 150\n")
	if err := testutil.GatherAndCompare(reg, expected, "usagelog_selflog_dropped_total"); err != nil {
		t.Errorf("dropped counter: %v", err)
	}
}
