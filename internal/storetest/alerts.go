package storetest

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/alerts"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// Alerts drives a rule of each metric from ok to firing and back to ok
// with events stored in the store that open gives, measured from its
// summaries as the alert evaluator measures them.
func Alerts(t *testing.T, open func(t *testing.T) SummaryStore) {
	s := open(t)
	svc := &summary.Service{Rollups: s, Events: s}
	ctx := context.Background()
	// T is a minute into a quarter hour, so that windows have ends read
	// from the events and whole quarter hours read from the rollups.
	T := time.Date(2026, 11, 20, 12, 1, 0, 0, time.UTC)
	calls := func(prefix string, at time.Time, n int, status int, timing int64, client string) []usage.Event {
		out := make([]usage.Event, n)
		for i := range out {
			e := usage.Event{Kind: usage.KindAPIRequest, ID: fmt.Sprintf("%s-%03d", prefix, i), Time: at.Add(time.Duration(i) * time.Second),
				Method: "GET", URL: "/a/rest/v1/orders", Status: status, Collection: "Orders", Client: client, TimingMS: timing}
			e.ClientClass, e.UsageType = usage.Classify(e.URL, e.UserAgent)
			out[i] = e
		}
		return out
	}
	// Each case has its own workspace: a normal batch before T, a bad one
	// (or none, for silence) that the window at T sees, and a normal one
	// that the window at T+30m sees alone.
	tests := []struct {
		metric   alerts.Metric
		op       string
		thresh   float64
		filters  url.Values
		minCalls int64
		bad      []usage.Event
	}{
		{alerts.MetricCalls, ">", 150, nil, 0, calls("bad", T.Add(-5*time.Minute), 100, 200, 40, "ERP")},
		{alerts.MetricErrors, ">=", 10, nil, 0, calls("bad", T.Add(-5*time.Minute), 10, 502, 40, "ERP")},
		{alerts.MetricErrorRate, ">", 0.05, url.Values{"client": {"ERP"}}, 50, calls("bad", T.Add(-5*time.Minute), 20, 500, 40, "ERP")},
		{alerts.MetricP95MS, ">", 500, nil, 10, calls("bad", T.Add(-5*time.Minute), 40, 200, 2000, "ERP")},
		{alerts.MetricStatus, ">", 3, url.Values{"status": {"429"}}, 0, calls("bad", T.Add(-5*time.Minute), 5, 429, 40, "ERP")},
		{alerts.MetricSilence, "", 0, url.Values{"client": {"ERP"}}, 0, nil},
	}
	for i, tt := range tests {
		t.Run(string(tt.metric), func(t *testing.T) {
			ws := int64(100 + i)
			r := &alerts.Rule{ID: "al_" + string(tt.metric), WorkspaceID: ws, Name: "test", Metric: tt.metric, Op: tt.op, Threshold: tt.thresh,
				Window: 15 * time.Minute, Filters: tt.filters, MinCalls: tt.minCalls}
			if r.Filters == nil {
				r.Filters = url.Values{}
			}
			normal := calls("ok", T.Add(-12*time.Minute), 100, 200, 40, "ERP")
			normal = append(normal, calls("other", T.Add(-11*time.Minute), 20, 200, 40, "CRM")...)
			if _, err := s.Append(ctx, ws, normal); err != nil {
				t.Fatal(err)
			}
			var st alerts.Status
			step := func(at time.Time, want alerts.State, notice alerts.Notice) {
				t.Helper()
				m, err := alerts.Measure(ctx, svc, r, at)
				if err != nil {
					t.Fatal(err)
				}
				var n alerts.Notice
				st, n = r.Step(st, m)
				if st.State != want || n != notice {
					t.Fatalf("at %s: %s (%q) after measuring %+v; want %s (%q)", at.Format("15:04"), st.State, n, m, want, notice)
				}
			}
			step(T.Add(-7*time.Minute), alerts.OK, alerts.NoNotice)
			firingAt := T
			if tt.bad == nil {
				firingAt = T.Add(20 * time.Minute) // the window from 12:06 to 12:21 has no call
			} else if _, err := s.Append(ctx, ws, tt.bad); err != nil {
				t.Fatal(err)
			}
			step(firingAt, alerts.Firing, alerts.Fired)
			if _, err := s.Append(ctx, ws, calls("later", T.Add(25*time.Minute), 100, 200, 40, "ERP")); err != nil {
				t.Fatal(err)
			}
			step(T.Add(30*time.Minute), alerts.OK, alerts.Resolved)
		})
	}
}
