package httpapi_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/apiclient"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/usage"
)

// TestGeneratedClient drives a running server through the client that
// oapi-codegen generates from the served description (internal/apiclient,
// which scripts/openapi-check.sh keeps equal to it), as a user's generated
// client would: NDJSON ingest, the log with filters page by page, a
// summary, and an export job to its download.
func TestGeneratedClient(t *testing.T) {
	h := newJobHarness(t, 0, nil)
	token := h.key(h.ws, usage.ScopeEventsWrite, usage.ScopeLogsRead)
	auth := func(ctx context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
	c, err := apiclient.NewClientWithResponses(h.url, apiclient.WithRequestEditorFn(auth))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Ingest: NDJSON, sent as the bytes it is.
	events := storetest.Fixture(300)
	now := time.Now().UTC().Truncate(time.Minute)
	for i := range events {
		events[i].Time = now.Add(-time.Duration(i) * time.Minute)
	}
	in, err := c.IngestEventsWithBodyWithResponse(ctx, "application/x-ndjson", strings.NewReader(ndjson(t, events)))
	if err != nil || in.JSON200 == nil || in.JSON200.Accepted != 300 {
		t.Fatalf("ingest: %v %s", err, in.Body)
	}
	// A refusal comes back as the error schema.
	bad, err := c.IngestEventsWithBodyWithResponse(ctx, "application/x-ndjson", strings.NewReader(`{"kind":"api_request"}`))
	if err != nil || bad.JSON400 == nil || bad.JSON400.Error.Message == "" {
		t.Fatalf("a bad body: %v %d %s", err, bad.StatusCode(), bad.Body)
	}

	// The log: 4xx calls of one client, 25 a page, by cursor.
	want := 0
	for _, e := range events {
		if e.Status >= 400 && e.Status < 500 && e.Client == "Data Team" {
			want++
		}
	}
	period := apiclient.ListLogsParamsPeriod("24h")
	classes := []apiclient.ListLogsParamsStatusClass{"4xx"}
	clients := []string{"Data Team"}
	limit := 25
	params := apiclient.ListLogsParams{Period: &period, StatusClass: &classes, Client: &clients, Limit: &limit}
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages > want {
			t.Fatal("the cursor does not end")
		}
		page, err := c.ListLogsWithResponse(ctx, &params)
		if err != nil || page.JSON200 == nil {
			t.Fatalf("logs: %v %s", err, page.Body)
		}
		for _, it := range page.JSON200.Items {
			if it.Status < 400 || it.Status >= 500 || it.Client == nil || *it.Client != "Data Team" || seen[it.Id] {
				t.Fatalf("logs: item %+v outside the filter, or twice", it)
			}
			seen[it.Id] = true
		}
		if page.JSON200.NextCursor == nil {
			break
		}
		params.Cursor = page.JSON200.NextCursor
	}
	if len(seen) != want {
		t.Errorf("logs: %d calls over the pages, want %d", len(seen), want)
	}

	// The summary of the same day.
	sp := apiclient.SummaryParamsPeriod("24h")
	sum, err := c.SummaryWithResponse(ctx, &apiclient.SummaryParams{Period: &sp})
	if err != nil || sum.JSON200 == nil || sum.JSON200.Total != 300 {
		t.Fatalf("summary: %v %s", err, sum.Body)
	}

	// An export job, followed to its file.
	report := apiclient.UsageExportSpecInputReport("api-logs")
	format := apiclient.UsageExportSpecInputFormat("csv")
	var filter apiclient.UsageExportSpecInput_Filters_AdditionalProperties
	if err := filter.FromUsageExportSpecInputFilters0("4xx"); err != nil {
		t.Fatal(err)
	}
	var p apiclient.UsageExportSpecInput_Filters_AdditionalProperties
	if err := p.FromUsageExportSpecInputFilters0("24h"); err != nil {
		t.Fatal(err)
	}
	filters := map[string]apiclient.UsageExportSpecInput_Filters_AdditionalProperties{"status_class": filter, "period": p}
	created, err := c.CreateExportJobWithResponse(ctx, apiclient.UsageExportSpecInput{Report: report, Format: &format, Filters: &filters})
	if err != nil || created.JSON202 == nil {
		t.Fatalf("create job: %v %d %s", err, created.StatusCode(), created.Body)
	}
	var job *apiclient.JobsView
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := c.GetExportJobWithResponse(ctx, created.JSON202.Id)
		if err != nil || got.JSON200 == nil {
			t.Fatalf("job: %v %s", err, got.Body)
		}
		if job = got.JSON200; job.Status == apiclient.JobsViewStatusSucceeded || job.Status == apiclient.JobsViewStatusFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still %s after 30 s", job.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if job.Status != apiclient.JobsViewStatusSucceeded || job.DownloadUrl == nil {
		t.Fatalf("job ended %s", job.Status)
	}
	link, err := url.Parse(*job.DownloadUrl)
	if err != nil {
		t.Fatal(err)
	}
	var expires int
	if _, err := fmt.Sscan(link.Query().Get("expires"), &expires); err != nil {
		t.Fatal(err)
	}
	file, err := c.DownloadFileWithResponse(ctx, strings.TrimPrefix(link.Path, "/files/"), &apiclient.DownloadFileParams{Expires: expires, Signature: link.Query().Get("signature")})
	if err != nil || file.StatusCode() != 200 {
		t.Fatalf("download: %v %d %s", err, file.StatusCode(), file.Body)
	}
	rows, err := csv.NewReader(bytes.NewReader(file.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantRows := 0
	for _, e := range events {
		if e.Status >= 400 && e.Status < 500 {
			wantRows++
		}
	}
	if len(rows)-1 != wantRows {
		t.Errorf("the job's CSV has %d rows, want the %d 4xx calls", len(rows)-1, wantRows)
	}
}
