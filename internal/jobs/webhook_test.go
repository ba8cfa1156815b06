package jobs_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/jobs"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/usage"
	"github.com/usagelog/usagelog/internal/webhook"
)

func TestWebhookRefusedAtDelivery(t *testing.T) {
	ctx := context.Background()
	var hits atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) })}
	go srv.Serve(ln)
	defer srv.Close()
	for _, target := range []string{"http://" + ln.Addr().String() + "/hook", "http://localhost:" + strings.Split(ln.Addr().String(), ":")[1] + "/hook"} {
		st := sqlitetest.Open(t)
		ws, err := st.EnsureWorkspace(ctx, usage.DefaultWorkspace)
		if err != nil {
			t.Fatal(err)
		}
		sc := usage.Schedule{ID: "sch_1", WorkspaceID: ws.ID, Name: "n", Range: "none", Spec: usage.ExportSpec{Report: "api-logs"},
			Cadence: usage.Cadence{Every: "daily", At: "06:00", Timezone: "UTC"}, WebhookURL: target, WebhookSecret: "whsec_x", CreatedAt: time.Now()}
		if err := st.CreateSchedule(ctx, &sc); err != nil {
			t.Fatal(err)
		}
		j := usage.ExportJob{ID: "job_1", WorkspaceID: ws.ID, ScheduleID: sc.ID, Spec: sc.Spec, Status: usage.JobQueued, CreatedAt: time.Now()}
		if err := st.CreateJob(ctx, &j); err != nil {
			t.Fatal(err)
		}
		(&jobs.Webhook{Meta: st, Now: time.Now}).Deliver(j)
		var got usage.ExportJob
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if got, err = st.Job(ctx, ws.ID, j.ID); err != nil || got.Webhook != "" {
				break
			}
		}
		if !strings.HasPrefix(got.Webhook, "refused: ") || !strings.Contains(got.Webhook, "loopback") {
			t.Errorf("%s: job's webhook %q, want refused as loopback", target, got.Webhook)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback listener received %d requests", n)
	}
}

// TestWebhookFollowsNoRedirect: a receiver's redirect is its answer (a
// failed delivery), not a second request somewhere else.
func TestWebhookFollowsNoRedirect(t *testing.T) {
	ctx := context.Background()
	var elsewhere atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer target.Close()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/internal", http.StatusTemporaryRedirect)
	}))
	defer receiver.Close()
	st := sqlitetest.Open(t)
	ws, _ := st.EnsureWorkspace(ctx, usage.DefaultWorkspace)
	sc := usage.Schedule{ID: "sch_1", WorkspaceID: ws.ID, Name: "n", Range: "none", Spec: usage.ExportSpec{Report: "api-logs"},
		Cadence: usage.Cadence{Every: "daily", At: "06:00", Timezone: "UTC"}, WebhookURL: receiver.URL + "/hook", WebhookSecret: "whsec_x", CreatedAt: time.Now()}
	if err := st.CreateSchedule(ctx, &sc); err != nil {
		t.Fatal(err)
	}
	j := usage.ExportJob{ID: "job_1", WorkspaceID: ws.ID, ScheduleID: sc.ID, Spec: sc.Spec, Status: usage.JobQueued, CreatedAt: time.Now()}
	if err := st.CreateJob(ctx, &j); err != nil {
		t.Fatal(err)
	}
	loopback := webhook.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	hook := &jobs.Webhook{Meta: st, Policy: loopback, Now: time.Now, Retry: time.Millisecond}
	hook.Deliver(j)
	var got usage.ExportJob
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got, _ = st.Job(ctx, ws.ID, j.ID); got.Webhook != "" {
			break
		}
	}
	if !strings.Contains(got.Webhook, "307") || elsewhere.Load() != 0 {
		t.Errorf("webhook %q, redirect target reached %d times", got.Webhook, elsewhere.Load())
	}
}
