package reclassify_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/reclassify"
	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// failing is an event store whose reclassification fails halfway.
type failing struct{ reclassify.Events }

func (failing) Reclassify(_ context.Context, _ int64, _ usage.Classifier, _ bool, progress func(done, total int64)) (int64, error) {
	progress(1, 2)
	return 0, errors.New("disk full")
}

// TestRunner: a change of the rules is taken up once and classifies the
// stored calls; a change made during a run is taken up after it; a run
// whose process stopped reporting is taken up by another once stale; a
// failure is recorded with its reason.
func TestRunner(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t)
	ws, err := st.EnsureWorkspace(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	var calls []usage.Event
	for i := range 30 {
		e := usage.Event{Kind: usage.KindAPIRequest, ID: fmt.Sprint(i), Time: time.Date(2026, 11, 1+i%20, 9, 0, 0, 0, time.UTC),
			Method: "GET", URL: "/v2/orders", UserAgent: "shop/1", Status: 200}
		e.ClientClass, e.UsageType = usage.Classify(e.URL, e.UserAgent)
		calls = append(calls, e)
	}
	if _, err := st.Append(ctx, ws.ID, calls); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	runner, err := reclassify.New(reclassify.Config{Events: st, Meta: st, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := runner.RunDue(ctx); n != 0 || err != nil {
		t.Fatalf("nothing due: ran %d, %v", n, err)
	}
	rules := []usage.Rule{{URLPrefix: "/v2/", System: "Shop", UsageType: usage.TypeMCP}}
	if err := st.SaveClassification(ctx, ws.ID, rules); err != nil {
		t.Fatal(err)
	}
	if err := st.RequestReclassification(ctx, ws.ID, now); err != nil {
		t.Fatal(err)
	}
	if rc, _ := st.Reclassification(ctx, ws.ID); rc.State() != usage.ReclassPending {
		t.Errorf("after a change: %s", rc.State())
	}
	// Not until every replica's ingest classifies by the new rules.
	if n, err := runner.RunDue(ctx); n != 0 || err != nil {
		t.Fatalf("ran %d before the change settled, %v", n, err)
	}
	now = now.Add(reclassify.DefaultSettle)
	if n, err := runner.RunDue(ctx); n != 1 || err != nil {
		t.Fatalf("ran %d, %v", n, err)
	}
	rc, err := st.Reclassification(ctx, ws.ID)
	if err != nil || rc.State() != usage.ReclassDone || rc.Changed != 30 || rc.Done != rc.Total || rc.Total != 30 {
		t.Fatalf("after the run: %s %+v %v", rc.State(), rc, err)
	}
	for e, err := range st.ScanLogs(ctx, ws.ID, usage.LogFilter{}) {
		if err != nil || e.ClientClass != "Shop" || e.UsageType != usage.TypeMCP {
			t.Fatalf("call %s: %q %q %v", e.ID, e.ClientClass, e.UsageType, err)
		}
	}
	if n, _ := runner.RunDue(ctx); n != 0 {
		t.Errorf("ran %d again with no change", n)
	}

	// A process claims a run and stops reporting: it is running until
	// stale, then another runner takes it up.
	if err := st.RequestReclassification(ctx, ws.ID, now.Add(-reclassify.DefaultSettle)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := st.ClaimReclassification(ctx, now, now, now.Add(-reclassify.DefaultStale)); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if rc, _ := st.Reclassification(ctx, ws.ID); rc.State() != usage.ReclassRunning {
		t.Errorf("claimed: %s", rc.State())
	}
	if n, _ := runner.RunDue(ctx); n != 0 {
		t.Errorf("took up a run still reporting")
	}
	now = now.Add(reclassify.DefaultStale + time.Second)
	if n, err := runner.RunDue(ctx); n != 1 || err != nil {
		t.Errorf("a stale run: ran %d, %v", n, err)
	}
	if rc, _ := st.Reclassification(ctx, ws.ID); rc.State() != usage.ReclassDone || rc.Changed != 0 {
		t.Errorf("after the stale run: %s %+v", rc.State(), rc)
	}

	// A failure is recorded with its reason and its progress.
	broken, err := reclassify.New(reclassify.Config{Events: failing{}, Meta: st, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RequestReclassification(ctx, ws.ID, now.Add(-reclassify.DefaultSettle)); err != nil {
		t.Fatal(err)
	}
	if n, err := broken.RunDue(ctx); n != 1 || err != nil {
		t.Fatalf("ran %d, %v", n, err)
	}
	if rc, _ := st.Reclassification(ctx, ws.ID); rc.State() != usage.ReclassFailed || rc.Error != "disk full" || rc.Done != 1 || rc.Total != 2 {
		t.Errorf("a failed run: %s %+v", rc.State(), rc)
	}
}

// TestChangeDuringARun: rules changed while a run goes on are taken up by
// another run after it.
func TestChangeDuringARun(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t)
	ws, err := st.EnsureWorkspace(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	events := eventsFunc(func(ctx context.Context, id int64, rules usage.Classifier, _ bool, progress func(done, total int64)) (int64, error) {
		runs++
		if runs == 1 {
			// The rules change while the first run goes on.
			if err := st.RequestReclassification(ctx, id, time.Now().Add(-time.Minute)); err != nil {
				return 0, err
			}
		}
		return st.Reclassify(ctx, id, rules, false, progress)
	})
	runner, err := reclassify.New(reclassify.Config{Events: events, Meta: st})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RequestReclassification(ctx, ws.ID, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if n, err := runner.RunDue(ctx); n != 2 || err != nil || runs != 2 {
		t.Errorf("ran %d (%d runs), %v; want 2", n, runs, err)
	}
	if rc, _ := st.Reclassification(ctx, ws.ID); rc.State() != usage.ReclassDone || rc.Requested != 2 || rc.Started != 2 {
		t.Errorf("after both: %s %+v", rc.State(), rc)
	}
}

type eventsFunc func(ctx context.Context, workspaceID int64, rules usage.Classifier, resumed bool, progress func(done, total int64)) (int64, error)

func (f eventsFunc) Reclassify(ctx context.Context, workspaceID int64, rules usage.Classifier, resumed bool, progress func(done, total int64)) (int64, error) {
	return f(ctx, workspaceID, rules, resumed, progress)
}
