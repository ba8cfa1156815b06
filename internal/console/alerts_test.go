package console_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/alerts"
	"github.com/usagelog/usagelog/internal/summary"
	"github.com/usagelog/usagelog/internal/usage"
)

// TestAlertsPage: an admin creates a rule with the plain form (a refused
// one comes back with its faults and its values), sees it fire on the
// overview and in its history once the runner measures stored calls, and
// deletes it; an analyst is kept out.
func TestAlertsPage(t *testing.T) {
	s := newSite(t)
	s.member("default", "ann@acme.example", usage.RoleAdmin)
	s.member("default", "bob@acme.example", usage.RoleAnalyst)
	b, token := s.signIn("ann@acme.example")
	if p := s.get(b, "/alerts"); p.status != 200 || !strings.Contains(p.body, `id="create-alert"`) || !strings.Contains(p.body, "No rule yet.") {
		t.Fatalf("alerts page: %d", p.status)
	}
	bad := s.post(b, "/alerts", url.Values{"csrf": {token}, "name": {"Orders <failing>"}, "metric": {"error_rate"}, "op": {">"},
		"threshold": {"lots"}, "window": {"1m"}})
	if bad.status != 400 || !strings.Contains(bad.body, "threshold: lots is not a number") || !strings.Contains(bad.body, "window: 1m is outside 5m to 7d") ||
		!strings.Contains(bad.body, `value="Orders &lt;failing&gt;"`) {
		t.Fatalf("refused form: %d %s", bad.status, bad.body)
	}
	form := url.Values{"csrf": {token}, "name": {"Orders <failing>"}, "metric": {"error_rate"}, "op": {">"}, "threshold": {"0.05"},
		"window": {"15m"}, "collection": {"Orders"}, "min_calls": {"10"}, "email": {"ops@example.com"}}
	if p := s.post(b, "/alerts", form); p.status != 201 || !strings.Contains(p.body, "Orders &lt;failing&gt;") || strings.Contains(p.body, "No rule yet.") {
		t.Fatalf("create: %d %s", p.status, p.body)
	}
	ws, _ := s.store.WorkspaceByName(context.Background(), "default")
	rules, _ := s.store.Alerts(context.Background(), ws.ID)
	if len(rules) != 1 || rules[0].Filters.Get("collection") != "Orders" || rules[0].Notify.Email[0] != "ops@example.com" {
		t.Fatalf("stored %+v", rules)
	}
	id := rules[0].ID

	calls := make([]usage.Event, 40)
	for i := range calls {
		calls[i] = usage.Event{Kind: usage.KindAPIRequest, ID: fmt.Sprint("c", i), Time: s.now.Add(-time.Duration(i+1) * 10 * time.Second),
			Method: "GET", URL: "/orders", Status: []int{200, 500}[i%2], Collection: "Orders"}
	}
	if _, err := s.store.Append(context.Background(), ws.ID, calls); err != nil {
		t.Fatal(err)
	}
	runner := &alerts.Runner{Store: s.store, Summaries: &summary.Service{Rollups: s.store, Events: s.store}, Sender: noSend{},
		Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return s.now }}
	if n, err := runner.RunDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("run: %d, %v", n, err)
	}
	home := s.get(b, "/")
	if !strings.Contains(home.body, `id="firing-alerts"`) || !strings.Contains(home.body, `<a href="/alerts/`+id+`">Orders &lt;failing&gt;</a>`) ||
		!strings.Contains(home.body, "50.0%") {
		t.Fatalf("overview without the firing rule: %s", home.body)
	}
	detail := s.get(b, "/alerts/"+id)
	if !regexp.MustCompile(`id="alert-state"[^>]*>firing<`).MatchString(detail.body) || !strings.Contains(detail.body, "<td>firing</td><td>firing</td>") {
		t.Fatalf("detail: %s", detail.body)
	}
	analyst, _ := s.signIn("bob@acme.example")
	if p := s.get(analyst, "/alerts"); p.status != 403 {
		t.Errorf("analyst: %d", p.status)
	}
	if p := s.get(analyst, "/"); !strings.Contains(p.body, "Orders &lt;failing&gt;:") || strings.Contains(p.body, `href="/alerts/`) {
		t.Errorf("analyst's overview should name the firing rule without a link to the admins' page")
	}
	if p := s.post(b, "/alerts/"+id+"/delete", url.Values{"csrf": {token}}); p.status != 303 {
		t.Fatalf("delete: %d", p.status)
	}
	if p := s.get(b, "/alerts/"+id); p.status != 404 {
		t.Fatalf("after delete: %d", p.status)
	}
}

type noSend struct{}

func (noSend) Send(context.Context, *alerts.Entry, *alerts.Message) error { return nil }
