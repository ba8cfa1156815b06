package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/usagelog/usagelog/internal/alerts"
	"github.com/usagelog/usagelog/internal/alerts/alertstest"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
	"github.com/usagelog/usagelog/internal/webhook"
)

// Alerts drives a rule of each metric from ok to firing and back to ok
// with events stored in the store that open gives, measured by the alert
// runner from its summaries, rules and state kept in meta's store; each
// notice reaches a webhook (JSON or Slack, signed) and Mailpit by email.
// A webhook that fails every try of a pass gets the notice a pass later.
func Alerts(t *testing.T, open func(t *testing.T) SummaryStore, meta func(t *testing.T) alerts.Store) {
	s, rules := open(t), meta(t)
	ctx := context.Background()
	hooks := &alertstest.Receiver{}
	target := httptest.NewServer(hooks)
	defer target.Close()
	mail := alertstest.Mailpit(t)
	smtp, err := alerts.ParseSMTP("smtp://alerts:secret@"+mail.Addr, "usagelog@example.com")
	if err != nil {
		t.Fatal(err)
	}
	smtp.RootCAs = mail.Pool
	loopback := webhook.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	var clk time.Time
	runner := &alerts.Runner{Store: rules, Summaries: &summary.Service{Rollups: s, Events: s},
		Sender:  &alerts.Delivery{Client: loopback.Client(5 * time.Second), SMTP: smtp, Retry: time.Millisecond},
		BaseURL: "https://usagelog.example.com", Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return clk }}
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
			format, path, to := alerts.FormatJSON, "/hook/"+string(tt.metric), string(tt.metric)+"@example.com"
			if i%2 == 1 {
				format = alerts.FormatSlack
			}
			r := &alerts.Rule{ID: "al_" + string(tt.metric), WorkspaceID: ws, Name: "Orders " + string(tt.metric), Metric: tt.metric, Op: tt.op,
				Threshold: tt.thresh, Window: 15 * time.Minute, Filters: tt.filters, MinCalls: tt.minCalls,
				Notify: alerts.Notify{Webhook: target.URL + path, Format: format, Email: []string{to}}, Enabled: true}
			if r.Filters == nil {
				r.Filters = url.Values{}
			}
			clk = T.Add(-8 * time.Minute)
			if err := rules.CreateAlert(ctx, r, "whsec_"+string(tt.metric), clk); err != nil {
				t.Fatal(err)
			}
			hooks.SetSecret(path, "whsec_"+string(tt.metric))
			normal := calls("ok", T.Add(-12*time.Minute), 100, 200, 40, "ERP")
			normal = append(normal, calls("other", T.Add(-11*time.Minute), 20, 200, 40, "CRM")...)
			if _, err := s.Append(ctx, ws, normal); err != nil {
				t.Fatal(err)
			}
			// step runs the pass at at (the rule due again a minute after
			// its last) and checks where the rule stands, and the notices
			// its webhook and its mailbox hold.
			var hookSent, mailSent []alerts.Notice
			head := map[alerts.Notice]string{alerts.Fired: "[FIRING] ", alerts.Repeated: "[STILL FIRING] ", alerts.Resolved: "[RESOLVED] "}
			step := func(at time.Time, want alerts.State, notices ...alerts.Notice) {
				t.Helper()
				clk = at
				if n, err := runner.RunDue(ctx); err != nil || n != 1 {
					t.Fatalf("at %s: measured %d rules, %v", at.Format("15:04"), n, err)
				}
				e, err := rules.Alert(ctx, ws, r.ID)
				if err != nil {
					t.Fatal(err)
				}
				if e.Status.State != want {
					t.Fatalf("at %s: %s after measuring %+v; want %s", at.Format("15:04"), e.Status.State, e.Last, want)
				}
				hookSent, mailSent = append(hookSent, notices...), append(mailSent, notices...)
				bodies, errs := hooks.Received(path)
				if len(errs) > 0 || len(bodies) != len(hookSent) {
					t.Fatalf("at %s: webhook got %v (errors %v), want %v", at.Format("15:04"), bodies, errs, hookSent)
				}
				for j, n := range hookSent {
					text, _ := bodies[j]["text"].(string)
					if !strings.HasPrefix(text, head[n]+r.Name) || (format == alerts.FormatJSON) != (bodies[j]["event"] == string(n)) {
						t.Fatalf("at %s: webhook body %d %v, want %s", at.Format("15:04"), j, bodies[j], n)
					}
				}
				mails := mail.MessagesTo(t, to, len(mailSent))
				if len(mails) != len(mailSent) {
					t.Fatalf("at %s: %d emails to %s, want %d", at.Format("15:04"), len(mails), to, len(mailSent))
				}
				// Mailpit lists the newest first.
				for j, n := range mailSent {
					if subj := mails[len(mails)-1-j].Subject; !strings.HasPrefix(subj, head[n]+r.Name) {
						t.Fatalf("at %s: email %d %q, want %s", at.Format("15:04"), j, subj, n)
					}
				}
			}
			step(T.Add(-7*time.Minute), alerts.OK)
			firingAt := T
			if tt.bad == nil {
				firingAt = T.Add(20 * time.Minute) // the window from 12:06 to 12:21 has no call
			} else if _, err := s.Append(ctx, ws, tt.bad); err != nil {
				t.Fatal(err)
			}
			if tt.metric == alerts.MetricErrors {
				// The webhook is down for the pass that fires (its three
				// tries): the failure shows on the rule, and the next pass
				// tells the webhook that the rule is still firing.
				hooks.Fail(path, 3)
				mailSent = append(mailSent, alerts.Fired) // the email goes
				step(firingAt, alerts.Firing)
				if e, _ := rules.Alert(ctx, ws, r.ID); !strings.Contains(e.NotifyError, "502") {
					t.Fatalf("failed notice: rule shows %q", e.NotifyError)
				}
				step(firingAt.Add(time.Minute), alerts.Firing, alerts.Repeated)
				if e, _ := rules.Alert(ctx, ws, r.ID); e.NotifyError != "" {
					t.Fatalf("after the notice went through: rule shows %q", e.NotifyError)
				}
			} else {
				step(firingAt, alerts.Firing, alerts.Fired)
			}
			if _, err := s.Append(ctx, ws, calls("later", T.Add(25*time.Minute), 100, 200, 40, "ERP")); err != nil {
				t.Fatal(err)
			}
			step(T.Add(30*time.Minute), alerts.OK, alerts.Resolved)
		})
	}
}

// AlertStore runs the conformance suite of alert rule stores: create,
// update, list, claims once across callers, state and history, deletion,
// the limit of rules a workspace.
func AlertStore(t *testing.T, open func(t *testing.T) alerts.Store) {
	ctx := context.Background()
	s := open(t)
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	rule := func(ws int64, id, name string) *alerts.Rule {
		return &alerts.Rule{ID: id, WorkspaceID: ws, Name: name, Metric: alerts.MetricErrorRate, Op: ">", Threshold: 0.05,
			Window: 15 * time.Minute, Filters: url.Values{"collection": {"Orders", "Billing <b>"}}, MinCalls: 50,
			Notify:   alerts.Notify{Webhook: "https://hooks.example.com/x", Format: alerts.FormatSlack, Email: []string{"a@example.com", "b@example.com"}},
			Renotify: time.Hour, Enabled: true}
	}
	a := rule(1, "al_a", "Orders failing")
	if err := s.CreateAlert(ctx, a, "secret-a", now); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAlert(ctx, rule(2, "al_other", "Another workspace's"), "s", now); err != nil {
		t.Fatal(err)
	}
	got, err := s.Alert(ctx, 1, "al_a")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Rule, *a) || got.Secret != "secret-a" || got.Status.State != alerts.OK || !got.Created.Equal(now) {
		t.Fatalf("stored %+v\nwant %+v", got, *a)
	}
	if _, err := s.Alert(ctx, 2, "al_a"); usage.ErrorCode(err) != usage.ENotFound {
		t.Errorf("another workspace's rule: err = %v, want not found", err)
	}
	a.Name, a.Metric, a.Op, a.Threshold, a.Notify.Email, a.Enabled = "Orders slow", alerts.MetricP95MS, ">=", 800, nil, false
	if err := s.UpdateAlert(ctx, a, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Alert(ctx, 1, "al_a"); !reflect.DeepEqual(got.Rule, *a) || !got.Updated.Equal(now.Add(time.Minute)) {
		t.Fatalf("updated %+v\nwant %+v", got.Rule, *a)
	}
	other := rule(2, "al_a", "x")
	if err := s.UpdateAlert(ctx, other, now); usage.ErrorCode(err) != usage.ENotFound {
		t.Errorf("update through another workspace: err = %v, want not found", err)
	}

	// Claims: a disabled rule is not due; each due rule goes to one of
	// several callers, and is due again at next.
	a.Enabled = true
	if err := s.UpdateAlert(ctx, a, now); err != nil {
		t.Fatal(err)
	}
	claimed := map[string]int{}
	for range 3 {
		es, err := s.ClaimDueAlerts(ctx, now.Add(time.Minute), now.Add(2*time.Minute), 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			claimed[e.ID]++
		}
	}
	if claimed["al_a"] != 1 || claimed["al_other"] != 1 || len(claimed) != 2 {
		t.Fatalf("claims %v, want each rule once", claimed)
	}
	if es, _ := s.ClaimDueAlerts(ctx, now.Add(2*time.Minute), now.Add(3*time.Minute), 100); len(es) != 2 {
		t.Fatalf("due again at next: claimed %d, want 2", len(es))
	}

	// State and history: a change of state or a notice is an event.
	e, _ := s.Alert(ctx, 1, "al_a")
	steps := []struct {
		m      alerts.Measurement
		notice alerts.Notice
	}{
		{alerts.Measurement{Value: 300, Calls: 90}, alerts.NoNotice},
		{alerts.Measurement{Value: 900, Calls: 95}, alerts.Fired},
		{alerts.Measurement{Value: 950, Calls: 97}, alerts.NoNotice},
		{alerts.Measurement{Value: 100, Calls: 99}, alerts.Resolved},
	}
	for i, st := range steps {
		st.m.At = now.Add(time.Duration(i+3) * time.Minute)
		prev := e.Status.State
		var n alerts.Notice
		e.Status, n = e.Step(e.Status, st.m)
		e.Last = st.m
		if n != st.notice {
			t.Fatalf("step %d: notice %q, want %q", i, n, st.notice)
		}
		if err := s.RecordAlerts(ctx, []alerts.Record{{Entry: &e, Prev: prev, Notice: n}}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ = s.Alert(ctx, 1, "al_a")
	if got.Status.State != alerts.OK || got.Last.Value != 100 || got.Last.Calls != 99 || !got.Last.At.Equal(now.Add(6*time.Minute)) ||
		!got.Status.Notified.Equal(now.Add(4*time.Minute)) {
		t.Fatalf("after the steps: %+v %+v", got.Status, got.Last)
	}
	history, err := s.AlertEvents(ctx, 1, "al_a", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != 2 || history[0].Notice != alerts.Resolved || history[0].State != alerts.OK ||
		history[1].Notice != alerts.Fired || history[1].Value != 900 || history[1].Calls != 95 {
		t.Fatalf("history %+v", history)
	}
	if err := s.AlertNotifyError(ctx, "al_a", "webhook: 502 Bad Gateway", now); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Alert(ctx, 1, "al_a"); got.NotifyError != "webhook: 502 Bad Gateway" || !got.NotifyErrorAt.Equal(now) {
		t.Errorf("notify error %q at %s", got.NotifyError, got.NotifyErrorAt)
	}

	if err := s.DeleteAlert(ctx, 2, "al_a"); usage.ErrorCode(err) != usage.ENotFound {
		t.Errorf("delete through another workspace: err = %v, want not found", err)
	}
	if err := s.DeleteAlert(ctx, 1, "al_a"); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.AlertEvents(ctx, 1, "al_a", 10); len(h) != 0 {
		t.Errorf("history of a deleted rule: %+v", h)
	}
	if list, _ := s.Alerts(ctx, 1); len(list) != 0 {
		t.Errorf("rules after delete: %+v", list)
	}

	// At most MaxRules a workspace.
	for i := range alerts.MaxRules {
		if err := s.CreateAlert(ctx, rule(3, fmt.Sprintf("al_%03d", i), fmt.Sprintf("r%03d", i)), "s", now); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateAlert(ctx, rule(3, "al_one_more", "one more"), "s", now); usage.ErrorCode(err) != usage.EInvalid {
		t.Errorf("rule %d: err = %v, want invalid", alerts.MaxRules+1, err)
	}
	if list, _ := s.Alerts(ctx, 3); len(list) != alerts.MaxRules || list[0].Name != "r000" {
		t.Errorf("listed %d rules", len(list))
	}

	// Replicas claiming at once, in batches smaller than what is due:
	// each rule goes to one of them.
	var mu sync.Mutex
	claimed = map[string]int{}
	var g errgroup.Group
	for range 4 {
		g.Go(func() error {
			for {
				es, err := s.ClaimDueAlerts(ctx, now.Add(10*time.Minute), now.Add(11*time.Minute), 30)
				if err != nil || len(es) == 0 {
					return err
				}
				mu.Lock()
				for _, e := range es {
					claimed[e.ID]++
				}
				mu.Unlock()
			}
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	for i := range alerts.MaxRules {
		if id := fmt.Sprintf("al_%03d", i); claimed[id] != 1 {
			t.Errorf("concurrent claims: %s claimed %d times, want 1", id, claimed[id])
		}
	}

	// A pass whose summaries fail measures nothing, and says so; the
	// rules keep their state.
	later := now.Add(20 * time.Minute)
	runner := &alerts.Runner{Store: s, Summaries: failingSummaries{}, Sender: noSender{},
		Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return later }}
	if n, err := runner.RunDue(ctx); n != 0 || err != nil {
		t.Errorf("a pass of failing summaries: measured %d, err %v; want 0, nil", n, err)
	}
	if e, _ := s.Alert(ctx, 3, "al_000"); !e.Last.At.IsZero() {
		t.Errorf("a rule that was not measured has a last measure: %+v", e.Last)
	}
}

type failingSummaries struct{}

func (failingSummaries) Summary(context.Context, int64, summary.Request) (*summary.Summary, error) {
	return nil, errors.New("the store is down")
}

// AlertsBench measures the alert runner's round: 1,000 rules (every
// metric; windows of 5 minutes to 7 days; unfiltered, one client, one
// collection, 5xx) measured from the summaries of s's workspace 1, which
// holds a busy year of calls up to now, and recorded in rules. A workspace
// keeps at most alerts.MaxRules, so the rules are kept in ten workspaces
// (101 to 110) and each is measured on workspace 1's calls. One op is one
// round of every rule, as serve runs one a minute.
func AlertsBench(b *testing.B, s SummaryStore, rules alerts.Store, now time.Time, client string) {
	ctx := context.Background()
	windows := []time.Duration{5 * time.Minute, 15 * time.Minute, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}
	filters := []url.Values{{}, {"client": {client}}, {"collection": {BenchCollection}}, {"status_class": {"5xx"}}}
	const n = 1000
	for i := range n {
		ws := int64(101 + i/alerts.MaxRules)
		if i%alerts.MaxRules == 0 {
			old, err := rules.Alerts(ctx, ws)
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range old {
				if err := rules.DeleteAlert(ctx, ws, e.ID); err != nil {
					b.Fatal(err)
				}
			}
		}
		r := &alerts.Rule{ID: fmt.Sprintf("al_bench_%04d", i), WorkspaceID: ws, Name: fmt.Sprintf("rule %d", i),
			Metric: alerts.Metrics[i%len(alerts.Metrics)], Op: ">", Threshold: 100, Window: windows[i%len(windows)],
			Filters: filters[i%len(filters)], Enabled: true}
		if r.Metric == alerts.MetricStatus {
			r.Filters = url.Values{"status": {"429", "503"}}
		}
		if err := rules.CreateAlert(ctx, r, "whsec_bench", now); err != nil {
			b.Fatal(err)
		}
	}
	one := workspaceOne{s}
	// A rule that fails to measure is logged, and not counted as measured.
	var failures bytes.Buffer
	runner := &alerts.Runner{Store: rules, Summaries: &summary.Service{Rollups: one, Events: one}, Sender: noSender{},
		Log: slog.New(slog.NewTextHandler(&failures, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	at := now
	for b.Loop() {
		at = at.Add(time.Minute)
		runner.Now = func() time.Time { return at }
		done, err := runner.RunDue(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if done != n {
			b.Fatalf("measured %d rules, want %d:\n%.2000s", done, n, failures.String())
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rules/s")
}

// workspaceOne answers every workspace's rollups and calls from workspace
// 1's. Below the summaries: a pass reads each workspace's events apart,
// as it would ten workspaces of their own.
type workspaceOne struct{ s SummaryStore }

func (w workspaceOne) Rollup(ctx context.Context, _ int64, q summary.Query) (*summary.Rollup, error) {
	return w.s.Rollup(ctx, 1, q)
}

func (w workspaceOne) ScanLogs(ctx context.Context, _ int64, f usage.LogFilter, fields ...string) iter.Seq2[*usage.Event, error] {
	return w.s.ScanLogs(ctx, 1, f, fields...)
}

type noSender struct{}

func (noSender) Send(context.Context, *alerts.Entry, *alerts.Message) error { return nil }
