package alerts

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

func TestInputRule(t *testing.T) {
	valid := `{"name":"Orders API failing","metric":"error_rate","op":">","threshold":0.05,"window":"15m",
		"filters":{"collection":["Orders"],"client":[],"status_class":[]},"min_calls":50,
		"notify":{"webhook":"https://hooks.example.com/x","format":"slack","email":["ops@example.com"]},"renotify":"1h"}`
	tests := []struct {
		name string
		body string
		want string // a part of the error; "" for none
	}{
		{"valid", valid, ""},
		{"silence needs no threshold", `{"name":"quiet","metric":"silence","window":"1h","filters":{"client":["ERP"]}}`, ""},
		{"unknown metric", `{"name":"x","metric":"latency","op":">","threshold":1,"window":"5m"}`, `metric: unknown metric "latency"`},
		{"threshold missing", `{"name":"x","metric":"calls","op":">","window":"5m"}`, "threshold: required"},
		{"window too short", `{"name":"x","metric":"calls","op":">","threshold":1,"window":"1m"}`, "window: 1m is outside 5m to 7d"},
		{"window too long", `{"name":"x","metric":"calls","op":">","threshold":1,"window":"8d"}`, "window: 8d is outside"},
		{"window not a span", `{"name":"x","metric":"calls","op":">","threshold":1,"window":"15 minutes"}`, `window: "15 minutes" is not a span`},
		{"unknown filter", `{"name":"x","metric":"calls","op":">","threshold":1,"window":"5m","filters":{"colour":["red"]}}`, `filters: unknown parameter "colour"`},
		{"bad filter value", `{"name":"x","metric":"calls","op":">","threshold":1,"window":"5m","filters":{"status_class":["9xx"]}}`, "filters: "},
		{"window in filters", `{"name":"x","metric":"calls","op":">","threshold":1,"window":"5m","filters":{"period":["24h"]}}`, "filters.period: the window is the rule's own"},
		{"status without codes", `{"name":"x","metric":"status","op":">","threshold":1,"window":"5m"}`, "filters.status: "},
		{"rate over 1", `{"name":"x","metric":"error_rate","op":">","threshold":5,"window":"5m"}`, "share from 0 to 1"},
		{"bad op", `{"name":"x","metric":"calls","op":"=>","threshold":1,"window":"5m"}`, `op: unknown comparison "=>"`},
		{"no name", `{"metric":"calls","op":">","threshold":1,"window":"5m"}`, "name: required"},
		{"bad webhook", `{"name":"x","metric":"calls","op":">","threshold":1,"window":"5m","notify":{"webhook":"ftp://x"}}`, "notify.webhook"},
		{"bad email", `{"name":"x","metric":"calls","op":">","threshold":1,"window":"5m","notify":{"email":["ops"]}}`, `notify.email: "ops"`},
		{"bad format", `{"name":"x","metric":"calls","op":">","threshold":1,"window":"5m","notify":{"format":"teams"}}`, "notify.format"},
		{"renotify too short", `{"name":"x","metric":"calls","op":">","threshold":1,"window":"5m","renotify":"1m"}`, "renotify: 1m is outside"},
		{"every fault named", `{"metric":"x","window":"0m"}`, "name: required; metric: unknown metric"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in Input
			if err := json.Unmarshal([]byte(tt.body), &in); err != nil {
				t.Fatal(err)
			}
			r, err := in.Rule()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Rule() = %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Rule() error = %v, want one with %q", err, tt.want)
			}
			if tt.name == "valid" {
				if r.Window != 15*time.Minute || r.Renotify != time.Hour || r.Threshold != 0.05 || !r.Enabled ||
					r.Notify.Format != FormatSlack || r.Filters.Get("collection") != "Orders" || len(r.Filters) != 1 {
					t.Fatalf("rule %+v", r)
				}
			}
		})
	}
}

func TestSpan(t *testing.T) {
	for _, s := range []string{"5m", "90m", "1h", "36h", "7d"} {
		d, err := ParseSpan(s)
		if err != nil {
			t.Fatal(err)
		}
		if back, _ := ParseSpan(FormatSpan(d)); back != d {
			t.Errorf("%s: FormatSpan gives %q", s, FormatSpan(d))
		}
	}
	for _, s := range []string{"", "m", "0m", "-5m", "5s", "1.5h", "5M"} {
		if _, err := ParseSpan(s); err == nil {
			t.Errorf("ParseSpan(%q) took it", s)
		}
	}
}

// TestStep walks a rule through its states and the notices each change
// calls for.
func TestStep(t *testing.T) {
	r := &Rule{Metric: MetricErrors, Op: ">", Threshold: 10, Renotify: time.Hour}
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	steps := []struct {
		at     time.Duration
		m      Measurement
		state  State
		notice Notice
	}{
		{0, Measurement{Value: 3, Calls: 100}, OK, NoNotice},
		{time.Minute, Measurement{Value: 11, Calls: 100}, Firing, Fired},
		{2 * time.Minute, Measurement{Value: 12, Calls: 100}, Firing, NoNotice},
		{61 * time.Minute, Measurement{Value: 12, Calls: 100}, Firing, Repeated},
		{62 * time.Minute, Measurement{Value: 12, Calls: 100}, Firing, NoNotice},
		{63 * time.Minute, Measurement{Value: 2, Calls: 100}, OK, Resolved},
		{64 * time.Minute, Measurement{Calls: 0, NoData: true}, NoData, NoNotice},
		{65 * time.Minute, Measurement{Value: 20, Calls: 100}, Firing, Fired},
		{66 * time.Minute, Measurement{Calls: 1, NoData: true}, NoData, Resolved},
	}
	var st Status
	for i, s := range steps {
		s.m.At = t0.Add(s.at)
		var n Notice
		st, n = r.Step(st, s.m)
		if st.State != s.state || n != s.notice {
			t.Fatalf("step %d: %s, %q; want %s, %q", i, st.State, n, s.state, s.notice)
		}
	}
	silence := &Rule{Metric: MetricSilence}
	if st, n := silence.Step(Status{State: OK}, Measurement{Calls: 0}); st.State != Firing || n != Fired {
		t.Fatalf("silence on no call: %s %q", st.State, n)
	}
}

// TestMemoKeysEveryFilter: two requests that differ in any filter get
// their own summaries; the same request, one.
func TestMemoKeysEveryFilter(t *testing.T) {
	calls := 0
	m := &memo{s: summarizerFunc(func() { calls++ }), sums: map[string]*memoized{}}
	w, _ := summary.RangeWindow(time.Unix(0, 0), time.Unix(900, 0), time.UTC)
	reqs := []usage.LogFilter{{}, {Clients: []string{"a"}}, {Clients: []string{"b"}}, {Methods: []string{"GET"}}, {UsageType: usage.TypeMCP}, {}}
	for _, f := range reqs {
		if _, err := m.Summary(context.Background(), 1, summary.Request{Window: w, Filter: f}); err != nil {
			t.Fatal(err)
		}
	}
	m.Summary(context.Background(), 2, summary.Request{Window: w})
	if calls != 6 {
		t.Fatalf("%d summaries, want 6", calls)
	}
}

// TestMemoTimings: rules of one pass that share a summary but not the
// need for timings (a p95 beside a count) share one summary, with them.
func TestMemoTimings(t *testing.T) {
	var withTiming, without int
	m := &memo{s: summarizerFunc2(func(req summary.Request) {
		if req.NoTiming {
			without++
		} else {
			withTiming++
		}
	}), sums: map[string]*memoized{}, timing: map[string]bool{}}
	w, _ := summary.RangeWindow(time.Unix(0, 0), time.Unix(900, 0), time.UTC)
	count := summary.Request{Window: w, TotalsOnly: true, NoTiming: true}
	p95 := summary.Request{Window: w, TotalsOnly: true}
	m.want(1, count)
	m.want(1, p95)
	m.want(2, count)
	for _, ws := range []int64{1, 1, 2} {
		for _, req := range []summary.Request{count, p95} {
			if ws == 2 && !req.NoTiming {
				continue
			}
			if _, err := m.Summary(context.Background(), ws, req); err != nil {
				t.Fatal(err)
			}
		}
	}
	if withTiming != 1 || without != 1 {
		t.Fatalf("%d summaries with timings and %d without, want 1 and 1", withTiming, without)
	}
}

type summarizerFunc2 func(summary.Request)

func (f summarizerFunc2) Summary(_ context.Context, _ int64, req summary.Request) (*summary.Summary, error) {
	f(req)
	return &summary.Summary{}, nil
}

type summarizerFunc func()

func (f summarizerFunc) Summary(context.Context, int64, summary.Request) (*summary.Summary, error) {
	f()
	return &summary.Summary{}, nil
}
