package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/audit"
	"github.com/usagelog/usagelog/internal/erasure"
	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/signedurl"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// TestErasureThroughTheAPI: a member's calls ingested over HTTP, an export
// file written before, an erasure requested with delete_files; the runner
// erases them, the receipt says what went, the file and the member are
// gone from every answer, a retry of their events is refused, and the
// audit log names the value only by its keyed hash.
func TestErasureThroughTheAPI(t *testing.T) {
	ctx := context.Background()
	var log *audit.Log
	h := newHarness(t, 0, func(c *httpapi.Config) {
		var err error
		if log, err = audit.New(audit.Config{Store: c.Meta.(usage.AuditStore), FlushEvery: 5 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		c.Audit = log
	})
	admin := h.key(h.ws, usage.ScopeWorkspaceAdmin, usage.ScopeEventsWrite, usage.ScopeLogsRead)
	events := storetest.Fixture(300)
	var theirs []usage.Event
	for i := range events {
		events[i].MemberID = "m-other"
		if i%3 == 0 {
			events[i].MemberID, events[i].MemberName = "m-gone@example.com", "Gone Person"
			theirs = append(theirs, events[i])
		}
	}
	if r := h.do("POST", "/api/v1/events", admin, "application/x-ndjson", strings.NewReader(ndjson(t, events))); r.status != 200 {
		t.Fatalf("ingest: %d %s", r.status, r.body)
	}

	// An export of API usage, written after their first call.
	job := usage.ExportJob{ID: "job_before", WorkspaceID: h.ws.ID, Spec: usage.ExportSpec{Report: "api-usage", Format: "csv"},
		Status: usage.JobQueued, CreatedAt: time.Now().Add(-time.Hour)}
	if err := h.store.CreateJob(ctx, &job); err != nil {
		t.Fatal(err)
	}
	claimed, err := h.store.ClaimJob(ctx, time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	path := "api-usage/1/job_before.csv"
	w, err := h.files.Create(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("member\nm-gone@example.com\n"))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	claimed.Status, claimed.FilePath, claimed.FinishedAt = usage.JobSucceeded, path, time.Now().Add(-30*time.Minute)
	if _, err := h.store.FinishJob(ctx, claimed); err != nil {
		t.Fatal(err)
	}

	link := signedurl.New([]byte("test secret, at least 32 characters long"), h.url, 0).URL(path, time.Now())
	if resp, err := http.Get(link); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the file's link before the erasure: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	r := h.do("POST", "/api/v1/erasures", admin, "application/json",
		strings.NewReader(`{"match":{"member_id":"m-gone@example.com"},"reason":"ticket 7","delete_files":true}`))
	if r.status != 202 {
		t.Fatalf("POST /api/v1/erasures: %d %s", r.status, r.body)
	}
	var queued struct {
		ID, Status, Field string
		ValueHash         string `json:"value_hash"`
	}
	json.Unmarshal(r.body, &queued)
	if queued.Status != "queued" || queued.Field != "member_id" || !strings.HasPrefix(queued.ValueHash, "hmac-sha256:") {
		t.Fatalf("queued erasure: %s", r.body)
	}
	if strings.Contains(string(r.body), "m-gone") {
		t.Errorf("the answer repeats the value: %s", r.body)
	}

	runner, err := erasure.New(erasure.Config{Events: h.store, Meta: h.store, Jobs: h.store, Files: h.files, Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := runner.RunDue(ctx); err != nil || n != 1 {
		t.Fatalf("ran %d erasures: %v", n, err)
	}

	r = h.do("GET", "/api/v1/erasures/"+queued.ID, admin, "", nil)
	var receipt struct {
		Status  string
		Removed map[string]int64
		Files   []usage.ErasedFile
	}
	json.Unmarshal(r.body, &receipt)
	if receipt.Status != "done" || receipt.Removed["api_request"] != int64(len(theirs)) || len(receipt.Removed) != 1 {
		t.Errorf("receipt: %s (want %d calls removed)", r.body, len(theirs))
	}
	if len(receipt.Files) != 1 || receipt.Files[0].Path != path || !receipt.Files[0].Deleted {
		t.Errorf("files of the receipt: %+v", receipt.Files)
	}
	if _, err := h.files.Open(ctx, path); usage.ErrorCode(err) != usage.ENotFound {
		t.Errorf("the export file is still there: %v", err)
	}
	if resp, err := http.Get(link); err != nil || resp.StatusCode != 404 {
		t.Errorf("the file's link after the erasure: %v %v, want 404", resp, err)
	} else {
		resp.Body.Close()
	}

	r = h.do("GET", "/api/v1/logs?limit=1000", admin, "", nil)
	if r.status != 200 || strings.Contains(string(r.body), "m-gone") || strings.Contains(string(r.body), "Gone Person") {
		t.Errorf("the logs still show the member (%d)", r.status)
	}
	r = h.do("POST", "/api/v1/events", admin, "application/x-ndjson", strings.NewReader(ndjson(t, theirs)))
	if m := r.json(t); m["accepted"] != float64(0) || m["duplicates"] != float64(len(theirs)) {
		t.Errorf("re-sent their events: %s", r.body)
	}

	// The audit log: erasure.create by the key, erasure.done by usagelog,
	// both with the hash and never the value.
	deadline := time.Now().Add(10 * time.Second)
	for {
		entries, err := h.store.Audit(ctx, h.ws.ID, usage.AuditQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		actions := map[string]usage.AuditEntry{}
		for _, e := range entries {
			actions[e.Action] = e
		}
		c, okC := actions[usage.AuditErasureCreate]
		d, okD := actions[usage.AuditErasureDone]
		if okC && okD {
			raw, _ := json.Marshal(entries)
			if strings.Contains(string(raw), "m-gone") {
				t.Errorf("the audit log holds the erased value: %s", raw)
			}
			if c.Details["value_hash"] != queued.ValueHash || d.Details["value_hash"] != queued.ValueHash || c.Target != queued.ID {
				t.Errorf("audit entries: %+v %+v", c, d)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit entries: %v", actions)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
