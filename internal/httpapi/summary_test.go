package httpapi_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/httpapi"
	"github.com/usagelog/usagelog/internal/storetest"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

func TestSummaryAndFacets(t *testing.T) {
	h := newHarness(t, 0, func(c *httpapi.Config) { c.Now = func() time.Time { return storetest.SummaryNow } })
	ctx := context.Background()
	events := storetest.RandomCalls(11, 3000, storetest.SummaryNow)
	if _, err := h.store.Append(ctx, h.ws.ID, events); err != nil {
		t.Fatal(err)
	}
	token := h.key(h.ws, usage.ScopeLogsRead)
	other, _ := h.store.CreateWorkspace(ctx, "other")
	otherToken := h.key(other, usage.ScopeLogsRead)

	for _, raw := range []string{
		"period=7d&tz=Asia/Kathmandu",
		"period=24h&tz=Asia/Kolkata&client=Data+Team",
		"period=90d&usage_type=mcp&collection_type=proxy",
		"from=2026-10-01&to=2026-10-31&tz=America/New_York&community=Product+Ideas",
	} {
		q, _ := url.ParseQuery(raw)
		req, err := summary.ParseRequest(q, storetest.SummaryNow, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		want, _, _ := summary.Reference(events, req)
		// Facets cover the logs' period: the hours before now.
		freq, err := summary.ParseFacetsRequest(q, storetest.SummaryNow, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		_, wantFacets, _ := summary.Reference(events, freq)
		r := h.do("GET", "/api/v1/summary?"+raw, token, "", nil)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", raw, r.status, r.body)
		}
		var got, exact map[string]any
		wantJSON, _ := json.Marshal(want)
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(wantJSON, &exact)
		p95, exactP95 := got["p95_ms"].(float64), exact["p95_ms"].(float64)
		if d := p95 - exactP95; d > 0.02*exactP95 || -d > 0.02*exactP95 {
			t.Errorf("%s: p95 %v, exact %v", raw, p95, exactP95)
		}
		delete(got, "p95_ms")
		delete(exact, "p95_ms")
		gj, _ := json.Marshal(got)
		ej, _ := json.Marshal(exact)
		if string(gj) != string(ej) {
			t.Errorf("%s:\n got %s\nwant %s", raw, gj, ej)
		}
		r = h.do("GET", "/api/v1/logs/facets?"+raw, token, "", nil)
		wf, _ := json.Marshal(wantFacets)
		if r.status != 200 || strings.TrimSpace(string(r.body)) != string(wf) {
			t.Errorf("facets %s: %d\n got %s\nwant %s", raw, r.status, r.body, wf)
		}
	}

	// The series starts at local midnight of the zone, bucket by bucket.
	r := h.do("GET", "/api/v1/summary?period=30d&tz=Asia/Kathmandu", token, "", nil)
	var s struct {
		From          string `json:"from"`
		BucketSeconds int    `json:"bucket_seconds"`
		Series        []struct {
			Start string `json:"start"`
		} `json:"series"`
	}
	json.Unmarshal(r.body, &s)
	if s.From != "2026-10-05T00:00:00.000+05:45" || s.BucketSeconds != 86400 || len(s.Series) != 30 || s.Series[29].Start != "2026-11-03T00:00:00.000+05:45" {
		t.Errorf("30d in Kathmandu: %s", r.body)
	}

	// Another workspace's key sees none of these calls.
	r = h.do("GET", "/api/v1/summary?period=90d", otherToken, "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"total":0,`) {
		t.Errorf("other workspace: %d %s", r.status, r.body)
	}

	for _, c := range []struct{ path, want string }{
		{"/api/v1/summary?period=1h", `unknown period \"1h\"`},
		{"/api/v1/summary?period=2d", `unknown period \"2d\"`},
		{"/api/v1/summary", "needs period"},
		{"/api/v1/summary?period=7d&tz=Mars/Base", `unknown timezone \"Mars/Base\"`},
		{"/api/v1/summary?period=7d&usage_type=robots", `unknown usage_type \"robots\"`},
		{"/api/v1/summary?period=7d&colour=red", `unknown parameter \"colour\"`},
		{"/api/v1/summary?from=2026-11-02&to=2026-11-01", "from must be before to"},
		{"/api/v1/summary?from=1990-01-01", "longer than 3660 days"},
		{"/api/v1/logs/facets", "need period"},
		{"/api/v1/logs/facets?period=7d&status_class=9xx", `unknown status_class \"9xx\"`},
	} {
		r := h.do("GET", c.path, token, "", nil)
		if r.status != 400 || !strings.Contains(string(r.body), c.want) {
			t.Errorf("%s: %d %s, want 400 naming %s", c.path, r.status, r.body, c.want)
		}
	}
	admin := h.key(h.ws, usage.ScopeEventsWrite)
	if r := h.do("GET", "/api/v1/summary?period=7d", admin, "", nil); r.status != 403 {
		t.Errorf("without LOGS_READ: %d %s", r.status, r.body)
	}
}
