package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// MetaStore runs the conformance suite of metadata stores.
func MetaStore(t *testing.T, open func(t *testing.T) usage.MetaStore) {
	ctx := context.Background()

	t.Run("JobsAndSchedules", func(t *testing.T) { jobStore(t, open(t)) })
	t.Run("CollectionsAndClients", func(t *testing.T) { collectionStore(t, open(t)) })

	t.Run("Workspaces", func(t *testing.T) {
		s := open(t)
		a, err := s.EnsureWorkspace(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.EnsureWorkspace(ctx, "acme")
		if err != nil || again.ID != a.ID {
			t.Fatalf("ensure twice gave %+v, %v; want id %d", again, err, a.ID)
		}
		if _, err := s.CreateWorkspace(ctx, "acme"); usage.ErrorCode(err) != usage.EConflict {
			t.Errorf("create existing: err = %v, want conflict", err)
		}
		if _, err := s.CreateWorkspace(ctx, "../etc"); usage.ErrorCode(err) != usage.EInvalid {
			t.Errorf("create ../etc: err = %v, want invalid", err)
		}
		b, err := s.CreateWorkspace(ctx, "globex")
		if err != nil {
			t.Fatal(err)
		}
		if b.ID == a.ID {
			t.Fatal("two workspaces share an id")
		}
		got, err := s.WorkspaceByID(ctx, b.ID)
		if err != nil || got.Name != "globex" {
			t.Errorf("by id = %+v, %v", got, err)
		}
		if _, err := s.WorkspaceByName(ctx, "nope"); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("unknown name: err = %v, want not found", err)
		}
		all, err := s.Workspaces(ctx)
		if err != nil || len(all) != 2 {
			t.Errorf("workspaces = %+v, %v", all, err)
		}
	})

	t.Run("Keys", func(t *testing.T) {
		s := open(t)
		a, _ := s.EnsureWorkspace(ctx, "acme")
		b, _ := s.EnsureWorkspace(ctx, "globex")
		now := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
		token, key, err := usage.NewKey(a.ID, "ingest bot", []usage.Scope{usage.ScopeEventsWrite, usage.ScopeLogsRead}, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateKey(ctx, key); err != nil {
			t.Fatal(err)
		}
		got, err := s.KeyByHash(ctx, usage.HashToken(token))
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != key.ID || got.WorkspaceID != a.ID || !got.Has(usage.ScopeLogsRead) || got.Has(usage.ScopeWorkspaceAdmin) || !got.CreatedAt.Equal(now.Truncate(time.Millisecond)) {
			t.Errorf("key = %+v", got)
		}
		if _, err := s.KeyByHash(ctx, usage.HashToken(token+"x")); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("unknown token: err = %v", err)
		}
		if err := s.TouchKey(ctx, key.ID, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		// Another workspace cannot revoke it.
		if err := s.RevokeKey(ctx, b.ID, key.ID, now); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("revoke from another workspace: err = %v, want not found", err)
		}
		if keys, _ := s.Keys(ctx, b.ID); len(keys) != 0 {
			t.Errorf("globex lists acme's keys: %+v", keys)
		}
		if err := s.RevokeKey(ctx, a.ID, key.ID, now.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		keys, err := s.Keys(ctx, a.ID)
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys = %+v, %v", keys, err)
		}
		if !keys[0].Revoked() || !keys[0].LastUsedAt.Equal(now.Add(time.Hour).Truncate(time.Millisecond)) {
			t.Errorf("after touch and revoke: %+v", keys[0])
		}
		if err := s.RevokeKey(ctx, a.ID, "key_missing", now); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("revoke unknown: err = %v", err)
		}
	})

	t.Run("Audit", func(t *testing.T) {
		s := open(t)
		a, _ := s.EnsureWorkspace(ctx, "acme")
		b, _ := s.EnsureWorkspace(ctx, "other")
		t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		var entries []usage.AuditEntry
		for i := range 25 {
			e := usage.AuditEntry{ID: fmt.Sprintf("aud_%02d", i), WorkspaceID: a.ID, Time: t0.Add(time.Duration(i/2) * time.Minute),
				Actor: usage.Actor{Type: usage.ActorKey, ID: "key_1", Name: "bot <b>"}, Action: []string{usage.AuditExportCreate, usage.AuditKeyCreate}[i%2],
				Target: "api-usage", IP: "192.0.2.7", Details: map[string]any{"rows": float64(i), "filters": map[string]any{"community": []any{"Ünï"}}}}
			entries = append(entries, e)
		}
		entries = append(entries, usage.AuditEntry{ID: "aud_other", WorkspaceID: b.ID, Time: t0, Actor: usage.SystemActor("janitor"), Action: usage.AuditRetentionPurge, Details: map[string]any{}})
		if err := s.AppendAudit(ctx, entries[:10]); err != nil {
			t.Fatal(err)
		}
		if err := s.AppendAudit(ctx, entries[10:]); err != nil {
			t.Fatal(err)
		}
		// Pages newest first, each entry once, as written.
		var got []usage.AuditEntry
		q := usage.AuditQuery{Limit: 7}
		for {
			page, err := s.Audit(ctx, a.ID, q)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page...)
			if len(page) < q.Limit {
				break
			}
			last := page[len(page)-1]
			q.After = &usage.Cursor{TimeMS: last.Time.UnixMilli(), ID: last.ID}
		}
		if len(got) != 25 || got[0].ID != "aud_24" || got[24].ID != "aud_00" {
			t.Fatalf("pages: %d entries, first %s", len(got), got[0].ID)
		}
		if !reflect.DeepEqual(got[24], entries[0]) {
			t.Errorf("read back %+v, wrote %+v", got[24], entries[0])
		}
		exports, _ := s.Audit(ctx, a.ID, usage.AuditQuery{Action: usage.AuditExportCreate, From: t0.Add(2 * time.Minute), To: t0.Add(5 * time.Minute)})
		if len(exports) != 3 {
			t.Errorf("action and range: %d entries, want 3", len(exports))
		}
		if other, _ := s.Audit(ctx, b.ID, usage.AuditQuery{}); len(other) != 1 || other[0].Actor.Type != usage.ActorSystem {
			t.Errorf("the other workspace's: %+v", other)
		}
		n, err := s.PurgeAudit(ctx, t0.Add(time.Minute))
		if err != nil || n != 3 {
			t.Errorf("purge: %d %v, want the 3 entries before 10:01", n, err)
		}
	})

	t.Run("Classification", func(t *testing.T) {
		s := open(t)
		ws, err := s.EnsureWorkspace(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		if rules, set, err := s.Classification(ctx, ws.ID); err != nil || set || rules != nil {
			t.Fatalf("before any: %v %v %v", rules, set, err)
		}
		want := []usage.Rule{{URLPrefix: "/v2/", UserAgentPrefix: "shop/", System: "Shop <MCP>", UsageType: usage.TypeMCP}, {URLPrefix: "/", System: "Web", UsageType: usage.TypeOther}}
		if err := s.SaveClassification(ctx, ws.ID, want); err != nil {
			t.Fatal(err)
		}
		if got, set, err := s.Classification(ctx, ws.ID); err != nil || !set || !reflect.DeepEqual(got, want) {
			t.Errorf("saved %v, read %v %v %v", want, got, set, err)
		}
		if err := s.SaveClassification(ctx, ws.ID, []usage.Rule{}); err != nil {
			t.Fatal(err)
		}
		if got, set, _ := s.Classification(ctx, ws.ID); !set || len(got) != 0 {
			t.Errorf("an empty list: %v %v, want set and empty", got, set)
		}
		if err := s.SaveClassification(ctx, ws.ID, nil); err != nil {
			t.Fatal(err)
		}
		if _, set, _ := s.Classification(ctx, ws.ID); set {
			t.Error("nil did not go back to the defaults")
		}
	})

	t.Run("Redaction", func(t *testing.T) {
		s := open(t)
		ws, err := s.EnsureWorkspace(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		other, err := s.EnsureWorkspace(ctx, "other")
		if err != nil {
			t.Fatal(err)
		}
		if r, set, err := s.Redaction(ctx, ws.ID); err != nil || set || !reflect.DeepEqual(r, usage.DefaultRedaction()) {
			t.Fatalf("before any: %v %v %v, want the defaults", r, set, err)
		}
		want := usage.Redaction{QueryParams: []string{"sid", "Token"}, PathPatterns: []string{`^\d{16}$`}, IP: usage.IPTruncated}
		if err := s.SaveRedaction(ctx, ws.ID, &want); err != nil {
			t.Fatal(err)
		}
		if got, set, err := s.Redaction(ctx, ws.ID); err != nil || !set || !reflect.DeepEqual(got, want) {
			t.Errorf("saved %v, read %v %v %v", want, got, set, err)
		}
		if _, set, _ := s.Redaction(ctx, other.ID); set {
			t.Error("another workspace's rules changed")
		}
		none := usage.Redaction{QueryParams: []string{}, PathPatterns: []string{}, IP: usage.IPNone}
		if err := s.SaveRedaction(ctx, ws.ID, &none); err != nil {
			t.Fatal(err)
		}
		if got, set, _ := s.Redaction(ctx, ws.ID); !set || !reflect.DeepEqual(got, none) {
			t.Errorf("empty lists: %#v %v, want %#v", got, set, none)
		}
		if err := s.SaveRedaction(ctx, ws.ID, nil); err != nil {
			t.Fatal(err)
		}
		if _, set, _ := s.Redaction(ctx, ws.ID); set {
			t.Error("nil did not go back to the defaults")
		}
	})

	t.Run("Reclassification", func(t *testing.T) {
		s := open(t)
		ws, err := s.EnsureWorkspace(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		other, err := s.EnsureWorkspace(ctx, "other")
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
		if rc, err := s.Reclassification(ctx, ws.ID); err != nil || rc.State() != usage.ReclassNone {
			t.Fatalf("before any change: %+v %v", rc, err)
		}
		if _, ok, err := s.ClaimReclassification(ctx, t0, t0, t0.Add(-time.Minute)); ok || err != nil {
			t.Fatalf("claimed with nothing due: %v %v", ok, err)
		}
		for _, id := range []int64{ws.ID, ws.ID, other.ID} {
			if err := s.RequestReclassification(ctx, id, t0); err != nil {
				t.Fatal(err)
			}
		}
		// Not before the change settled.
		if _, ok, err := s.ClaimReclassification(ctx, t0, t0.Add(-time.Second), t0.Add(-time.Minute)); ok || err != nil {
			t.Fatalf("claimed a change not settled: %v %v", ok, err)
		}
		// Two changes, one run; one claim each, oldest request first.
		claimed := map[int64]bool{}
		for range 2 {
			c, ok, err := s.ClaimReclassification(ctx, t0.Add(time.Second), t0, t0.Add(-time.Minute))
			if !ok || err != nil || claimed[c.WorkspaceID] || c.Resumed {
				t.Fatalf("claim: %+v %v %v (claimed %v)", c, ok, err, claimed)
			}
			claimed[c.WorkspaceID] = true
		}
		if _, ok, _ := s.ClaimReclassification(ctx, t0.Add(time.Second), t0, t0.Add(-time.Minute)); ok {
			t.Error("claimed a running run still reporting")
		}
		if err := s.ReclassificationProgress(ctx, ws.ID, 3, 10, t0.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		rc, err := s.Reclassification(ctx, ws.ID)
		if err != nil || rc.State() != usage.ReclassRunning || rc.Done != 3 || rc.Total != 10 || rc.Requested != 2 || !rc.RequestedAt.Equal(t0) {
			t.Errorf("running: %s %+v %v", rc.State(), rc, err)
		}
		// A run that stops reporting is claimed again.
		if c, ok, _ := s.ClaimReclassification(ctx, t0.Add(time.Hour), t0.Add(time.Hour), t0.Add(time.Minute)); !ok || !c.Resumed {
			t.Errorf("a stale run was not claimed again as resumed: %+v %v", c, ok)
		} else if err := s.FinishReclassification(ctx, c.WorkspaceID, 0, "", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		for id := range claimed {
			if err := s.FinishReclassification(ctx, id, 42, "disk full", t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		if rc, _ := s.Reclassification(ctx, ws.ID); rc.State() != usage.ReclassFailed || rc.Changed != 42 || rc.Error != "disk full" {
			t.Errorf("failed: %s %+v", rc.State(), rc)
		}
		if _, ok, _ := s.ClaimReclassification(ctx, t0.Add(2*time.Hour), t0.Add(2*time.Hour), t0.Add(2*time.Hour)); ok {
			t.Error("claimed a finished run")
		}
	})

	t.Run("MembersSessionsSettings", func(t *testing.T) {
		s := open(t)
		a, _ := s.EnsureWorkspace(ctx, "acme")
		b, _ := s.EnsureWorkspace(ctx, "globex")
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		m := usage.Member{ID: "mem_1", WorkspaceID: a.ID, Email: "ann@acme.example", PasswordHash: "$2a$hash", Role: usage.RoleAnalyst, CreatedAt: now}
		if err := s.CreateMember(ctx, m); err != nil {
			t.Fatal(err)
		}
		dup := m
		dup.ID, dup.WorkspaceID = "mem_2", b.ID
		if err := s.CreateMember(ctx, dup); usage.ErrorCode(err) != usage.EConflict {
			t.Errorf("same email twice: err = %v, want conflict", err)
		}
		got, err := s.MemberByEmail(ctx, "ann@acme.example")
		if err != nil || got != m {
			t.Errorf("by email = %+v, %v", got, err)
		}
		if got, err := s.MemberByID(ctx, "mem_1"); err != nil || got.Email != m.Email {
			t.Errorf("by id = %+v, %v", got, err)
		}
		if _, err := s.MemberByEmail(ctx, "nobody@acme.example"); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("unknown email: %v", err)
		}
		if list, _ := s.Members(ctx, b.ID); len(list) != 0 {
			t.Errorf("globex lists acme's members: %+v", list)
		}

		sess := usage.Session{Hash: "h1", MemberID: m.ID, CSRF: "c1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if got, err := s.SessionByHash(ctx, "h1", now.Add(time.Minute)); err != nil || got != sess {
			t.Errorf("session = %+v, %v", got, err)
		}
		if _, err := s.SessionByHash(ctx, "h1", now.Add(2*time.Hour)); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("expired session found: %v", err)
		}
		if err := s.DeleteSession(ctx, "h1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SessionByHash(ctx, "h1", now); usage.ErrorCode(err) != usage.ENotFound {
			t.Errorf("deleted session found: %v", err)
		}

		if st, err := s.Settings(ctx, a.ID); err != nil || st != usage.DefaultSettings() {
			t.Errorf("default settings = %+v, %v", st, err)
		}
		want := usage.Settings{AnonymizeUsers: true, AnonymizeIPs: true, Timezone: "Europe/Berlin", ExportRowLimit: 5000, RetentionDays: 90}
		if err := s.SaveSettings(ctx, a.ID, want); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Settings(ctx, a.ID); st != want {
			t.Errorf("settings = %+v, want %+v", st, want)
		}
		want.AnonymizeIPs = false
		if err := s.SaveSettings(ctx, a.ID, want); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Settings(ctx, a.ID); st != want {
			t.Errorf("updated settings = %+v, want %+v", st, want)
		}
		if st, _ := s.Settings(ctx, b.ID); st != usage.DefaultSettings() {
			t.Errorf("globex got acme's settings: %+v", st)
		}
	})
}

func jobStore(t *testing.T, s usage.MetaStore) {
	ctx := context.Background()
	a, err := s.CreateWorkspace(ctx, "jobs-a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateWorkspace(ctx, "jobs-b")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	newJob := func(id string, ws usage.Workspace, at time.Time) usage.ExportJob {
		j := usage.ExportJob{ID: id, WorkspaceID: ws.ID, Status: usage.JobQueued, RowsTotal: -1, CreatedAt: at,
			Spec: usage.ExportSpec{Report: "api-logs", Format: "csv", Filters: usage.FilterValues{"status": {"4xx", "5xx"}}, Timezone: "Europe/Berlin"}}
		if err := s.CreateJob(ctx, &j); err != nil {
			t.Fatal(err)
		}
		return j
	}
	newJob("a1", a, t0)
	newJob("a2", a, t0.Add(time.Second))
	newJob("b1", b, t0.Add(2*time.Second))

	got, err := s.Job(ctx, a.ID, "a1")
	if err != nil || got.Spec.Filters["status"][1] != "5xx" || got.Spec.Timezone != "Europe/Berlin" || !got.CreatedAt.Equal(t0) || got.RowsTotal != -1 {
		t.Fatalf("job a1 = %+v (%v)", got, err)
	}
	if _, err := s.Job(ctx, b.ID, "a1"); usage.ErrorCode(err) != usage.ENotFound {
		t.Errorf("another workspace's job: %v", err)
	}
	// One job a workspace: a1 and b1 are claimed, a2 waits for a1.
	var claimed []string
	for {
		j, err := s.ClaimJob(ctx, t0.Add(time.Minute), 1)
		if usage.ErrorCode(err) == usage.ENotFound {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if j.Status != usage.JobRunning || !j.StartedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("claimed %+v", j)
		}
		claimed = append(claimed, j.ID)
	}
	if len(claimed) != 2 || claimed[0] != "a1" || claimed[1] != "b1" {
		t.Fatalf("claimed %v, want [a1 b1]", claimed)
	}
	if ok, err := s.JobProgress(ctx, "a1", 10, 100, t0.Add(2*time.Minute)); !ok || err != nil {
		t.Errorf("progress of a running job: %v %v", ok, err)
	}
	if j, _ := s.Job(ctx, a.ID, "a1"); j.RowsWritten != 10 || j.RowsTotal != 100 {
		t.Errorf("after progress %+v", j)
	}
	done, _ := s.Job(ctx, a.ID, "a1")
	done.Status, done.FinishedAt, done.FilePath, done.RecordCount, done.RowsWritten = usage.JobSucceeded, t0.Add(3*time.Minute), "api-logs/1/x.csv", 100, 100
	done.ExpiresAt = t0.Add(time.Hour)
	if ok, err := s.FinishJob(ctx, done); !ok || err != nil {
		t.Fatalf("finish: %v %v", ok, err)
	}
	if j, err := s.ClaimJob(ctx, t0.Add(4*time.Minute), 1); err != nil || j.ID != "a2" {
		t.Fatalf("after a1 finished, claimed %+v (%v), want a2", j, err)
	}
	// Cancelled while running: progress and finish say so.
	if j, err := s.CancelJob(ctx, a.ID, "a2", t0.Add(5*time.Minute)); err != nil || j.Status != usage.JobCancelled {
		t.Fatalf("cancel: %+v %v", j, err)
	}
	if ok, _ := s.JobProgress(ctx, "a2", 5, 10, t0.Add(5*time.Minute)); ok {
		t.Error("progress of a cancelled job reports running")
	}
	if ok, _ := s.FinishJob(ctx, usage.ExportJob{ID: "a2", Status: usage.JobSucceeded}); ok {
		t.Error("a cancelled job finished")
	}
	if j, _ := s.CancelJob(ctx, a.ID, "a1", t0); j.Status != usage.JobSucceeded {
		t.Errorf("cancelling a finished job changed it: %+v", j)
	}
	// b1 stopped beating: it is failed with the reason.
	stale, err := s.FailStaleJobs(ctx, t0.Add(30*time.Minute), t0.Add(31*time.Minute), "runner died")
	if err != nil || len(stale) != 1 || stale[0].ID != "b1" || stale[0].Status != usage.JobFailed || stale[0].Error != "runner died" {
		t.Fatalf("stale %+v (%v)", stale, err)
	}
	list, err := s.Jobs(ctx, a.ID, 10)
	if err != nil || len(list) != 2 || list[0].ID != "a2" || list[1].ID != "a1" {
		t.Fatalf("history %+v (%v), want a2, a1", list, err)
	}
	expired, err := s.ExpiredJobFiles(ctx, t0.Add(2*time.Hour))
	if err != nil || len(expired) != 1 || expired[0].ID != "a1" {
		t.Fatalf("expired %+v (%v)", expired, err)
	}
	if err := s.ForgetJobFile(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if expired, _ := s.ExpiredJobFiles(ctx, t0.Add(2*time.Hour)); len(expired) != 0 {
		t.Errorf("forgotten file still expires: %+v", expired)
	}
	if err := s.RecordWebhook(ctx, "a1", "refused: 127.0.0.1 is a loopback address"); err != nil {
		t.Fatal(err)
	}
	if j, err := s.Job(ctx, a.ID, "a1"); err != nil || j.Webhook != "refused: 127.0.0.1 is a loopback address" {
		t.Errorf("webhook outcome %q (%v)", j.Webhook, err)
	}

	sc := usage.Schedule{ID: "s1", WorkspaceID: a.ID, Name: "daily", Range: "previous_day", CreatedAt: t0, NextRun: t0.Add(time.Hour),
		Spec:    usage.ExportSpec{Report: "api-usage", Format: "xlsx"},
		Cadence: usage.Cadence{Every: "daily", At: "13:00", Timezone: "UTC"}, WebhookURL: "https://example.com/h", WebhookSecret: "whsec_x"}
	if err := s.CreateSchedule(ctx, &sc); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Schedule(ctx, a.ID, "s1"); err != nil || got.Cadence != sc.Cadence || got.WebhookSecret != "whsec_x" || !got.NextRun.Equal(sc.NextRun) {
		t.Fatalf("schedule %+v (%v)", got, err)
	}
	if due, _ := s.DueSchedules(ctx, t0); len(due) != 0 {
		t.Errorf("due before its time: %+v", due)
	}
	due, err := s.DueSchedules(ctx, t0.Add(2*time.Hour))
	if err != nil || len(due) != 1 {
		t.Fatalf("due %+v (%v)", due, err)
	}
	// Two replicas race for the run: one wins.
	next := t0.Add(25 * time.Hour)
	ok1, err1 := s.AdvanceSchedule(ctx, "s1", due[0].NextRun, next, t0.Add(2*time.Hour), "j1")
	ok2, err2 := s.AdvanceSchedule(ctx, "s1", due[0].NextRun, next, t0.Add(2*time.Hour), "j2")
	if !ok1 || ok2 || err1 != nil || err2 != nil {
		t.Errorf("advance: %v %v / %v %v, want one winner", ok1, err1, ok2, err2)
	}
	if list, _ := s.Schedules(ctx, b.ID); len(list) != 0 {
		t.Errorf("workspace b sees %d schedules", len(list))
	}
	if err := s.DeleteSchedule(ctx, b.ID, "s1"); usage.ErrorCode(err) != usage.ENotFound {
		t.Errorf("workspace b deletes a's schedule: %v", err)
	}
	if err := s.DeleteSchedule(ctx, a.ID, "s1"); err != nil {
		t.Error(err)
	}
}
