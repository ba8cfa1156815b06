package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/capture"
	"github.com/usagelog/usagelog/internal/gateway"
	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/usage"
)

func openStore(tb testing.TB) (*sqlite.Store, int64) {
	tb.Helper()
	ctx := context.Background()
	st := sqlitetest.Open(tb)
	ws, err := st.EnsureWorkspace(ctx, usage.DefaultWorkspace)
	if err != nil {
		tb.Fatal(err)
	}
	return st, ws.ID
}

// calls are n recorded gateway calls, as the recorder hands them to a sink.
func calls(n int) []capture.Event {
	out := make([]capture.Event, n)
	start := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for i := range out {
		c := capture.Call{Time: start.Add(time.Duration(i) * time.Millisecond), Method: "GET", URL: fmt.Sprintf("/orders/%d", i), Endpoint: "/orders/{id}",
			Status: 200, Collection: "Orders", CollectionType: usage.CollectionProxy, Client: "load", IP: "198.51.100.7",
			UserAgent: "PostmanRuntime/7.43.3", TimingMS: 3}
		out[i] = capture.Event{ID: fmt.Sprintf("call-%06d", i), Call: c}
	}
	return out
}

// The store sink applies ingest's rules: valid events are stored,
// normalised; a batch holding an invalid one is refused for good
// (capture.ErrRejected) after the valid ones are in.
func TestStoreSink(t *testing.T) {
	st, ws := openStore(t)
	ctx := context.Background()
	evs := calls(250)
	evs[0].Method = "get"
	evs[7].Status = 0 // api_request requires a status
	evs[9].UserAgent = "bad \xff byte"
	err := gateway.StoreSink(st, ws, nil).Send(ctx, evs)
	if !errors.Is(err, capture.ErrRejected) || !strings.Contains(err.Error(), `1 of 250 events, first: field "status"`) {
		t.Fatalf("got %v, want the batch refused for its one invalid event", err)
	}
	if n, _ := st.Count(ctx, ws, usage.KindAPIRequest); n != 249 {
		t.Fatalf("stored %d, want the 249 valid events", n)
	}
	page, err := st.Logs(ctx, ws, usage.LogQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page {
		switch e.ID {
		case "call-000000":
			if e.Method != "GET" {
				t.Errorf("method stored as %q, want it upper-cased", e.Method)
			}
		case "call-000009":
			if e.UserAgent != "bad \uFFFD byte" {
				t.Errorf("user agent stored as %q, want the bad byte replaced", e.UserAgent)
			}
		}
	}
}

// BenchmarkStoreSink delivers batches of 1,000 gateway calls into SQLite,
// as the gateway's recorder does with --data.
func BenchmarkStoreSink(b *testing.B) {
	st, ws := openStore(b)
	sink := gateway.StoreSink(st, ws, nil)
	template := calls(1000)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		batch := make([]capture.Event, len(template))
		for j := range template {
			batch[j] = template[j]
			batch[j].ID = fmt.Sprintf("b%d-%d", i, j)
		}
		b.StartTimer()
		if err := sink.Send(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(template))/b.Elapsed().Seconds(), "events/s")
}

// The gateway's calls are redacted by the workspace's rules before the
// store sees them: the defaults, and a workspace's own rules.
func TestStoreSinkRedacts(t *testing.T) {
	st, ws := openStore(t)
	ctx := context.Background()
	evs := calls(2)
	evs[0].URL = "/orders/1?access_token=s3cr3t&page=1"
	evs[1].URL = "/users/ann@example.com/orders"
	evs[1].UserAgent = "bot/1 key=s3cr3t"
	if err := st.SaveRedaction(ctx, ws, &usage.Redaction{QueryParams: usage.DefaultQueryParams, PathPatterns: usage.DefaultPathPatterns, IP: usage.IPTruncated}); err != nil {
		t.Fatal(err)
	}
	if err := gateway.StoreSink(st, ws, &ingest.Policies{Rules: st}).Send(ctx, evs); err != nil {
		t.Fatal(err)
	}
	page, err := st.Logs(ctx, ws, usage.LogQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]usage.Event{}
	for _, e := range page {
		got[e.ID] = e
	}
	if e := got["call-000000"]; e.URL != "/orders/1?access_token=REDACTED&page=1" || e.IP != "198.51.100.0" {
		t.Errorf("call 0: %q %q", e.URL, e.IP)
	}
	if e := got["call-000001"]; e.URL != "/users/REDACTED/orders" || e.UserAgent != "bot/1 key=REDACTED" {
		t.Errorf("call 1: %q %q", e.URL, e.UserAgent)
	}
}
