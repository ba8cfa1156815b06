package httpapi_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/jobs"
	"github.com/usagelog/usagelog/internal/sqlite"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
	"github.com/usagelog/usagelog/internal/webhook"
)

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// slowScans is the real SQLite store whose log scans pause every 100
// rows, so that a test can watch a job run and cancel it midway.
type slowScans struct {
	*sqlite.Store
	pause time.Duration
}

func (s slowScans) ScanLogs(ctx context.Context, ws int64, f usage.LogFilter, fields ...string) iter.Seq2[*usage.Event, error] {
	return func(yield func(*usage.Event, error) bool) {
		n := 0
		for e, err := range s.Store.ScanLogs(ctx, ws, f, fields...) {
			if n++; n%100 == 0 {
				time.Sleep(s.pause)
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

type jobHarness struct {
	*harness
	runner *jobs.Runner
	stop   func()
}

// newJobHarness serves the API with a job runner over the harness's
// stores; pause slows each 100 rows of a log export.
func newJobHarness(t *testing.T, pause time.Duration, tweak func(*jobs.RunnerConfig), opts ...func(*httpapi.Config)) *jobHarness {
	jh := &jobHarness{}
	var runnerCfg jobs.RunnerConfig
	jh.harness = newHarness(t, 0, append(opts, func(cfg *httpapi.Config) {
		st := cfg.Events.(*sqlite.Store)
		runnerCfg = jobs.RunnerConfig{Meta: st, Beat: 20 * time.Millisecond, Lease: time.Minute,
			Exporter: &jobs.Exporter{Events: slowScans{st, pause}, Meta: st, Files: cfg.Files, Secret: cfg.Secret}}
		if tweak != nil {
			tweak(&runnerCfg)
		}
		if runnerCfg.Now != nil {
			cfg.Now = runnerCfg.Now
		}
		cfg.Audit = runnerCfg.Audit
		r, err := jobs.NewRunner(runnerCfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Jobs, jh.runner = r, r
	})...)
	ctx, cancel := context.WithCancel(context.Background())
	jh.runner.Start(ctx)
	jh.stop = func() { cancel(); jh.runner.Wait() }
	t.Cleanup(jh.stop)
	return jh
}

func (h *jobHarness) job(token, id string) jobs.View {
	h.t.Helper()
	r := h.do("GET", "/api/v1/exports/"+id, token, "", nil)
	if r.status != 200 {
		h.t.Fatalf("GET job: %d %s", r.status, r.body)
	}
	var j jobs.View
	if err := json.Unmarshal(r.body, &j); err != nil {
		h.t.Fatal(err)
	}
	return j
}

func (h *jobHarness) submit(token, body string) jobs.View {
	h.t.Helper()
	r := h.do("POST", "/api/v1/exports", token, "application/json", strings.NewReader(body))
	if r.status != http.StatusAccepted {
		h.t.Fatalf("POST /api/v1/exports: %d %s", r.status, r.body)
	}
	var j jobs.View
	if err := json.Unmarshal(r.body, &j); err != nil {
		h.t.Fatal(err)
	}
	return j
}

// wait polls the job until done says so, for at most 30 s.
func (h *jobHarness) wait(token, id string, done func(jobs.View) bool) jobs.View {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j := h.job(token, id)
		if done(j) {
			return j
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("job %s still %s with %d rows after 30 s", id, j.Status, j.RowsWritten)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func final(j jobs.View) bool { return j.Status.Final() }

func (h *jobHarness) download(link string) []byte {
	h.t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		h.t.Fatalf("download: %d %s", resp.StatusCode, b)
	}
	return b
}

func TestJobLifeWithRisingProgress(t *testing.T) {
	h := newJobHarness(t, 2*time.Millisecond, nil)
	const rows = 25_000
	if _, err := h.store.Append(context.Background(), h.ws.ID, storetest.Fixture(rows)); err != nil {
		t.Fatal(err)
	}
	token := h.key(h.ws, usage.ScopeLogsRead)
	j := h.submit(token, `{"report": "api-logs", "format": "csv", "filters": {"status_class": ["2xx", "4xx", "5xx"]}, "timezone": "Europe/Berlin"}`)
	if j.Status != usage.JobQueued && j.Status != usage.JobRunning || j.ID == "" || j.DownloadURL != "" {
		t.Fatalf("new job %+v", j)
	}
	// Watch it run: rows written only ever rise, and are seen between
	// the first and the last.
	var seen []int64
	j = h.wait(token, j.ID, func(j jobs.View) bool {
		if j.Status == usage.JobRunning && j.RowsWritten > 0 {
			seen = append(seen, j.RowsWritten)
			if j.RowsTotal == nil || *j.RowsTotal != rows {
				t.Errorf("running job's total %v, want %d", j.RowsTotal, rows)
			}
		}
		return final(j)
	})
	if j.Status != usage.JobSucceeded || j.RecordCount == nil || *j.RecordCount != rows || j.RowsWritten != rows {
		t.Fatalf("finished job %+v", j)
	}
	distinct := 0
	for i := range seen {
		if i > 0 && seen[i] < seen[i-1] {
			t.Fatalf("progress fell: %v", seen)
		}
		if i == 0 || seen[i] != seen[i-1] {
			distinct++
		}
	}
	if distinct < 2 || seen[0] >= rows {
		t.Errorf("progress seen %v: want at least two rising values below %d", seen, rows)
	}
	if j.StartedAt == nil || j.FinishedAt == nil || j.FinishedAt.Before(*j.StartedAt) {
		t.Errorf("started %v finished %v", j.StartedAt, j.FinishedAt)
	}
	records, err := csv.NewReader(strings.NewReader(string(h.download(j.DownloadURL)))).ReadAll()
	if err != nil || len(records) != rows+1 || records[0][0] != "Date" {
		t.Fatalf("downloaded %d records (%v), want %d and the header", len(records), err, rows+1)
	}

	// The history lists it, newest first, after a second job.
	j2 := h.submit(token, `{"report": "api-usage", "format": "xlsx", "filters": {"period": "7d"}}`)
	h.wait(token, j2.ID, final)
	r := h.do("GET", "/api/v1/exports", token, "", nil)
	var list struct{ Items []jobs.View }
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Items) != 2 || list.Items[0].ID != j2.ID || list.Items[1].ID != j.ID {
		t.Fatalf("history %d %s", r.status, r.body)
	}
	if list.Items[0].Timezone != "UTC" || list.Items[0].Format != "xlsx" {
		t.Errorf("defaults: %+v", list.Items[0])
	}
}

func TestJobRefusals(t *testing.T) {
	h := newJobHarness(t, 0, nil)
	logs := h.key(h.ws, usage.ScopeLogsRead)
	for _, c := range []struct {
		token, body string
		status      int
		want        string
	}{
		{logs, `{"report": "nope"}`, 400, `unknown report \"nope\"`},
		{logs, `{"report": "api-logs", "filters": {"status": "banana"}}`, 400, "banana"},
		{logs, `{"report": "api-logs", "timezone": "Mars/Olympus"}`, 400, "Mars/Olympus"},
		{logs, `{"report": "api-logs", "format": "zip"}`, 400, "zip"},
		{logs, `{"report": "users", "filters": {"from": "2026-01-01", "to": "2026-01-31"}}`, 403, "USAGE_EXPORT_API"},
		{logs, `{"report": "usage-reports"}`, 403, "SERVER_MANAGEMENT_READ"},
		{h.key(h.ws, usage.ScopeUsageExportAPI), `{"report": "users", "filters": {"from": "2026-01-01"}}`, 400, "from and to"},
		{logs, `{"report": "api-logs", "extra": 1}`, 400, "extra"},
	} {
		r := h.do("POST", "/api/v1/exports", c.token, "application/json", strings.NewReader(c.body))
		if r.status != c.status || !strings.Contains(string(r.body), c.want) {
			t.Errorf("%s: %d %s, want %d naming %s", c.body, r.status, r.body, c.status, c.want)
		}
	}
	// Another workspace's job is not found.
	j := h.submit(logs, `{"report": "api-logs"}`)
	other, err := h.store.CreateWorkspace(context.Background(), "other")
	if err != nil {
		t.Fatal(err)
	}
	if r := h.do("GET", "/api/v1/exports/"+j.ID, h.key(other, usage.ScopeLogsRead), "", nil); r.status != 404 {
		t.Errorf("other workspace's job: %d %s", r.status, r.body)
	}
	if r := h.do("DELETE", "/api/v1/exports/"+j.ID, h.key(other, usage.ScopeLogsRead), "", nil); r.status != 404 {
		t.Errorf("other workspace cancels: %d %s", r.status, r.body)
	}
}

func TestJobCancelMidRun(t *testing.T) {
	h := newJobHarness(t, 5*time.Millisecond, nil)
	if _, err := h.store.Append(context.Background(), h.ws.ID, storetest.Fixture(30_000)); err != nil {
		t.Fatal(err)
	}
	token := h.key(h.ws, usage.ScopeLogsRead)
	j := h.submit(token, `{"report": "api-logs", "format": "xlsx"}`)
	h.wait(token, j.ID, func(j jobs.View) bool { return j.RowsWritten > 0 })
	r := h.do("DELETE", "/api/v1/exports/"+j.ID, token, "", nil)
	if r.status != 200 {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	j = h.wait(token, j.ID, final)
	if j.Status != usage.JobCancelled || j.DownloadURL != "" || j.RowsWritten >= 30_000 {
		t.Fatalf("cancelled job %+v", j)
	}
	// The runner stopped is the runner done aborting: then no file may
	// be left.
	h.stop()
	if n := countFiles(t, h.harness); n != 0 {
		t.Errorf("%d files left after cancel, want none", n)
	}
	if r := h.do("DELETE", "/api/v1/exports/"+j.ID, token, "", nil); r.status != 409 {
		t.Errorf("cancel again: %d %s", r.status, r.body)
	}
}

// countFiles counts the files in the harness's file store, partial ones
// included.
func countFiles(t *testing.T, h *harness) int {
	t.Helper()
	// Everything older than a minute from now is everything.
	n, err := h.files.Sweep(context.Background(), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestJobsConcurrencyLimitPerWorkspace(t *testing.T) {
	h := newJobHarness(t, 3*time.Millisecond, func(c *jobs.RunnerConfig) { c.Workers, c.PerWorkspace = 3, 1 })
	ctx := context.Background()
	other, err := h.store.CreateWorkspace(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	for _, ws := range []usage.Workspace{h.ws, other} {
		if _, err := h.store.Append(ctx, ws.ID, storetest.Fixture(5_000)); err != nil {
			t.Fatal(err)
		}
	}
	a, b := h.key(h.ws, usage.ScopeLogsRead), h.key(other, usage.ScopeLogsRead)
	ids := []string{h.submit(a, `{"report": "api-logs"}`).ID, h.submit(a, `{"report": "api-logs"}`).ID, h.submit(a, `{"report": "api-logs"}`).ID}
	otherID := h.submit(b, `{"report": "api-logs"}`).ID
	sawOther := false
	deadline := time.Now().Add(30 * time.Second)
	for {
		// One query is one snapshot of every job.
		list, err := h.store.Jobs(ctx, h.ws.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		running, done := 0, 0
		for _, j := range list {
			switch j.Status {
			case usage.JobRunning:
				running++
			case usage.JobSucceeded:
				done++
			}
		}
		if running > 1 {
			t.Fatalf("%d jobs of one workspace running at once, limit 1", running)
		}
		if running == 1 && h.job(b, otherID).Status == usage.JobRunning {
			sawOther = true // the other workspace is not held up
		}
		if done == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("jobs did not finish in 30 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if !sawOther {
		t.Error("the other workspace's job never ran beside this workspace's")
	}
}

func TestJobsAfterRestart(t *testing.T) {
	// A server died with one job running and one queued: the new one
	// fails the first with a reason and runs the second.
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	h := newJobHarness(t, 0, func(c *jobs.RunnerConfig) { c.Now = clk.Now })
	if _, err := h.store.Append(ctx, h.ws.ID, storetest.Fixture(1_000)); err != nil {
		t.Fatal(err)
	}
	h.stop() // the first server's runner is gone
	token := h.key(h.ws, usage.ScopeLogsRead)
	running := h.submit(token, `{"report": "api-logs"}`)
	if _, err := h.store.ClaimJob(ctx, clk.Now(), 5); err != nil { // it was running when the server died
		t.Fatal(err)
	}
	queued := h.submit(token, `{"report": "api-usage", "format": "json"}`)

	clk.Add(2 * time.Minute) // more than a lease later
	restarted, err := jobs.NewRunner(jobs.RunnerConfig{Meta: h.store, Now: clk.Now, Beat: 20 * time.Millisecond, Lease: time.Minute,
		Exporter: &jobs.Exporter{Events: h.store, Meta: h.store, Files: h.files}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	restarted.Start(rctx)
	defer func() { cancel(); restarted.Wait() }()

	j := h.wait(token, running.ID, final)
	if j.Status != usage.JobFailed || !strings.Contains(j.Error, "stopped before it finished") {
		t.Errorf("job running at the crash: %+v", j)
	}
	j = h.wait(token, queued.ID, final)
	if j.Status != usage.JobSucceeded || *j.RecordCount != 1_000 {
		t.Errorf("job queued at the crash: %+v", j)
	}
}

func TestScheduleFiresAndSignsWebhook(t *testing.T) {
	ctx := context.Background()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	// The fixture's second day, 10 March in Berlin, is "the previous
	// day" of a run at 06:00 on 11 March.
	clk := &clock{t: time.Date(2026, 3, 11, 5, 0, 0, 0, berlin)}
	var jh *jobHarness
	type delivery struct {
		sig  string
		body []byte
	}
	got := make(chan delivery, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header.Get(webhook.SignatureHeader), b}
	}))
	defer receiver.Close()
	jh = newJobHarness(t, 0, func(c *jobs.RunnerConfig) {
		c.Now = clk.Now
		c.Webhooks = webhook.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}} // the receiver
		c.Finished = func(j usage.ExportJob) {
			(&jobs.Webhook{Meta: c.Meta, Policy: c.Webhooks, Log: nil, Now: clk.Now,
				Links: jh.api.JobLinks()}).Deliver(j)
		}
	})
	h := jh
	events := storetest.Fixture(5_000) // one a minute from 8 March 06:00 UTC
	if _, err := h.store.Append(ctx, h.ws.ID, events); err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, e := range events {
		if y, m, d := e.Time.In(berlin).Date(); y == 2026 && m == 3 && d == 10 {
			want++
		}
	}
	token := h.key(h.ws, usage.ScopeLogsRead)
	r := h.do("POST", "/api/v1/schedules", token, "application/json", strings.NewReader(`{
		"name": "daily errors", "report": "api-logs", "format": "csv", "range": "previous_day",
		"cadence": {"every": "daily", "at": "06:00", "timezone": "Europe/Berlin"},
		"retentionDays": 3, "webhookUrl": "`+receiver.URL+`/hook"}`))
	if r.status != 201 {
		t.Fatalf("create schedule: %d %s", r.status, r.body)
	}
	var sc struct {
		ID, WebhookSecret string
		NextRun           time.Time
	}
	if err := json.Unmarshal(r.body, &sc); err != nil || sc.WebhookSecret == "" {
		t.Fatalf("schedule %s (%v)", r.body, err)
	}
	if want := time.Date(2026, 3, 11, 6, 0, 0, 0, berlin); !sc.NextRun.Equal(want) {
		t.Errorf("next run %s, want %s", sc.NextRun, want)
	}
	if err := h.runner.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	if list, _ := h.store.Jobs(ctx, h.ws.ID, 10); len(list) != 0 {
		t.Fatalf("%d jobs before the schedule was due", len(list))
	}
	// Three days of downtime: the missed runs run once.
	clk.Set(time.Date(2026, 3, 13, 9, 0, 0, 0, berlin))
	for range 2 {
		if err := h.runner.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	list, _ := h.store.Jobs(ctx, h.ws.ID, 10)
	if len(list) != 1 || list[0].ScheduleID != sc.ID {
		t.Fatalf("%d jobs after the missed runs, want 1", len(list))
	}
	// It covers the day before the run that was due (10 March).
	if f := list[0].Spec.Filters; f["from"][0] != "2026-03-10" || f["to"][0] != "2026-03-10" || list[0].Spec.Timezone != "Europe/Berlin" {
		t.Errorf("scheduled job's spec %+v", list[0].Spec)
	}
	var d delivery
	select {
	case d = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook in 30 s")
	}
	if err := webhook.Verify(sc.WebhookSecret, d.sig, d.body, clk.Now(), 5*time.Minute); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if err := webhook.Verify("whsec_wrong", d.sig, d.body, clk.Now(), 5*time.Minute); err == nil {
		t.Error("a wrong secret verifies")
	}
	if err := webhook.Verify(sc.WebhookSecret, d.sig, append(d.body, ' '), clk.Now(), 5*time.Minute); err == nil {
		t.Error("a changed body verifies")
	}
	var j jobs.View
	if err := json.Unmarshal(d.body, &j); err != nil || j.Status != usage.JobSucceeded || j.ScheduleID != sc.ID || j.DownloadURL == "" {
		t.Fatalf("webhook body %s (%v)", d.body, err)
	}
	if !strings.Contains(j.FilePath, usage.ScheduledDir+"/") || j.ExpiresAt == nil {
		t.Errorf("scheduled file %s expires %v", j.FilePath, j.ExpiresAt)
	}
	records, err := csv.NewReader(strings.NewReader(string(h.download(j.DownloadURL)))).ReadAll()
	if err != nil || len(records) != want+1 {
		t.Fatalf("scheduled file has %d records (%v), want %d and the header", len(records), err, want)
	}
	// The next run is tomorrow at 06:00.
	s, _ := h.store.Schedule(ctx, h.ws.ID, sc.ID)
	if want := time.Date(2026, 3, 14, 6, 0, 0, 0, berlin); !s.NextRun.Equal(want) || s.LastJobID != j.ID {
		t.Errorf("after the run: next %s (want %s), last job %s", s.NextRun, want, s.LastJobID)
	}
	if r := h.do("DELETE", "/api/v1/schedules/"+sc.ID, token, "", nil); r.status != 204 {
		t.Errorf("delete schedule: %d %s", r.status, r.body)
	}
}

// TestScheduleWebhookRefused: a schedule whose webhook leads to loopback
// or a private network is refused at creation, naming the URL; the
// loopback listener receives nothing.
func TestScheduleWebhookRefused(t *testing.T) {
	var hits atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer receiver.Close()
	h := newJobHarness(t, 0, nil)
	token := h.key(h.ws, usage.ScopeLogsRead)
	for _, target := range []string{receiver.URL + "/hook", "http://10.0.0.7/hook", "http://169.254.169.254/latest"} {
		r := h.do("POST", "/api/v1/schedules", token, "application/json", strings.NewReader(`{
			"name": "n", "report": "api-logs", "range": "previous_day",
			"cadence": {"every": "daily", "at": "06:00", "timezone": "UTC"}, "webhookUrl": "`+target+`"}`))
		if r.status != 400 || !strings.Contains(string(r.body), target) {
			t.Errorf("%s: %d %s, want 400 naming it", target, r.status, r.body)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback receiver got %d requests", n)
	}
}

// TestSynchronousExportsTakeSlots: with --export-concurrency 1, a log
// export streaming to a client that reads slowly holds the workspace's
// slot, and a second synchronous export is 429 with Retry-After until it
// ends.
func TestSynchronousExportsTakeSlots(t *testing.T) {
	h := newHarness(t, 0, func(c *httpapi.Config) { c.ExportConcurrency = 1 })
	if _, err := h.store.Append(context.Background(), h.ws.ID, storetest.Fixture(50_000)); err != nil {
		t.Fatal(err)
	}
	token := h.key(h.ws, usage.ScopeLogsRead)
	req, _ := http.NewRequest("GET", h.url+"/api/v1/exports/api-logs?format=csv", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req) // its body, megabytes, is not read yet
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first export: %v %v", resp, err)
	}
	for _, path := range []string{"/api/v1/logs.csv", "/api/v1/exports/api-usage"} {
		r := h.do("GET", path, token, "", nil)
		if r.status != 429 || r.header.Get("Retry-After") == "" {
			t.Errorf("%s while an export runs: %d Retry-After %q: %s", path, r.status, r.header.Get("Retry-After"), r.body)
		}
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r := h.do("GET", "/api/v1/logs.csv?period=1h", token, "", nil)
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the first export ended: %d %s", r.status, r.body)
		}
	}
}
