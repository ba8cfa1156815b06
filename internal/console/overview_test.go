package console

import (
	"context"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/sqlite/sqlitetest"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

func TestLoadOverview(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t)
	ws, _ := st.EnsureWorkspace(ctx, "default")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	now := time.Date(2026, 3, 10, 12, 30, 0, 0, berlin)
	call := func(id string, at time.Time, status int, client, url string, timing int64) usage.Event {
		e := usage.Event{Kind: usage.KindAPIRequest, ID: id, Time: at.UTC(), Method: "GET", URL: url, Status: status, Client: client, TimingMS: timing}
		if client == "Cursor" {
			e.UserAgent = "ideascale-mcp-server/1.2.1"
		}
		e.ClientClass, e.UsageType = usage.Classify(e.URL, e.UserAgent)
		return e
	}
	var evs []usage.Event
	for i := range 20 {
		evs = append(evs, call("a"+string(rune('a'+i)), now.Add(-time.Duration(i)*time.Hour), 200, "Slack", "/api/x", int64(10*(i+1))))
	}
	evs = append(evs,
		call("e1", now.Add(-30*time.Minute), 500, "Cursor", "/mcp/tools", 5),
		call("e2", now.Add(-90*time.Minute), 404, "", "/api/y", 1),
		call("old", now.Add(-25*time.Hour), 200, "Slack", "/api/x", 1), // outside 24h
	)
	if _, err := st.Append(ctx, ws.ID, evs); err != nil {
		t.Fatal(err)
	}
	o, err := loadOverview(ctx, &summary.Service{Rollups: st, Events: st}, ws.ID, "24h", now, berlin)
	if err != nil {
		t.Fatal(err)
	}
	if o.Total != 22 || o.Errors != 2 || o.MCP != 1 || o.Other != 21 {
		t.Errorf("total %d errors %d mcp %d other %d", o.Total, o.Errors, o.MCP, o.Other)
	}
	// 22 timings: 1, 5, 10..200; the 95th percentile is the 21st of 22,
	// 190, and the summaries' is within 2% of it.
	if o.P95 < 187 || o.P95 > 193 {
		t.Errorf("p95 = %d, want 190 within 2%%", o.P95)
	}
	if !o.From.Equal(time.Date(2026, 3, 9, 13, 0, 0, 0, berlin)) {
		t.Errorf("from = %v, want 13:00 Berlin the day before (hourly columns on whole hours)", o.From)
	}
	last := len(o.Success) - 1
	if o.Success[last] != 1 || o.Failed[last] != 1 {
		t.Errorf("the current hour: %d ok, %d failed; want 1 and 1 (12:30 and 12:00)", o.Success[last], o.Failed[last])
	}
	if len(o.Clients) != 3 || o.Clients[0].Name != "Slack" || o.Clients[0].Calls != 20 || o.Clients[1].Name != "(no client)" || o.Clients[2].Name != "Cursor" {
		t.Errorf("clients = %+v", o.Clients)
	}
	bars, yMax, _ := o.requestsChart(berlin)
	if len(bars) != 24 || yMax != 2 {
		t.Errorf("%d bars, max %d", len(bars), yMax)
	}
	if _, err := loadOverview(ctx, &summary.Service{Rollups: st, Events: st}, ws.ID, "2y", now, berlin); usage.ErrorCode(err) != usage.EInvalid {
		t.Errorf("unknown period: %v", err)
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4500: "-4,500"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%d) = %q, want %q", in, got, want)
		}
	}
}
